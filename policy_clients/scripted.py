"""A scripted OpenAI-compatible engine that answers instantly: for tests, demos and benchmarks.

Each request is answered by the first rule whose `match` (a regular expression) is found in
the last message and whose `role` (if set) is that message's role. A rule replies with text,
tool calls, an HTTP error, or after a delay. Token ids come from a byte-level tokenizer behind
a ChatML-like template, so they are exact and prefix-consistent across turns exactly as a real
engine's are, and the answer mimics the token fields of the engine named by `shape`.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Annotated, Any, Literal

import orjson
from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from gym_core.service import create_service_app
from gym_core.settings import parse_settings

__all__ = ["ScriptedSettings", "create_app", "render_prompt", "tokenize"]

IM_START = 256
IM_END = 257
SCRIPTED_LOGPROB = -0.125
Shape = Literal["vllm", "openai"]


class ScriptedToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    """An object, or raw text (to test arguments that are not valid JSON)."""


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: str = ""
    """Searched for in the last message's content; empty matches everything."""
    role: str | None = None
    """Only when the last message has this role (e.g. `tool`)."""
    reply: str = ""
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    status: int | None = None
    """Answer with this HTTP error instead of a completion."""
    delay_s: Annotated[float, Field(ge=0)] = 0.0


class ScriptedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "scripted"
    model: str = "scripted"
    shape: Shape = "vllm"
    """Whose token fields the answers carry: vLLM's (`prompt_token_ids`, `token_ids`) or none
    (OpenAI's)."""
    rules: list[Rule] = Field(default_factory=lambda: [Rule(reply="\\boxed{0}")])


def tokenize(text: str) -> list[int]:
    """Byte-level ids, with the two template markers as their own ids."""
    ids: list[int] = []
    for index, piece in enumerate(re.split(r"(<\|im_start\|>|<\|im_end\|>)", text)):
        if index % 2:
            ids.append(IM_START if piece == "<|im_start|>" else IM_END)
        else:
            ids.extend(piece.encode())
    return ids


def render_message(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    for call in message.get("tool_calls") or []:
        function = call["function"]
        content += f"<tool_call>{function['name']} {function['arguments']}</tool_call>"
    return f"<|im_start|>{message['role']}\n{content}<|im_end|>\n"


def render_prompt(messages: list[dict[str, Any]]) -> str:
    return "".join(render_message(message) for message in messages) + "<|im_start|>assistant\n"


def create_app(raw_settings: dict[str, Any]) -> FastAPI:
    settings = parse_settings(ScriptedSettings, raw_settings, "scripted engine settings")
    rules = [(re.compile(rule.match), rule) for rule in settings.rules]
    app = create_service_app(settings.name)

    def choose(messages: list[dict[str, Any]]) -> Rule:
        last = messages[-1] if messages else {}
        for pattern, rule in rules:
            if rule.role not in (None, last.get("role")):
                continue
            if pattern.search(last.get("content") or ""):
                return rule
        raise HTTPException(400, "no scripted rule matches the last message")

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        owner = "system" if settings.shape == "openai" else settings.shape
        return {
            "object": "list",
            "data": [{"id": settings.model, "object": "model", "owned_by": owner}],
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> dict[str, Any]:
        body = orjson.loads(await request.body())
        messages = body.get("messages") or []
        rule = choose(messages)
        if rule.delay_s:
            await asyncio.sleep(rule.delay_s)
        if rule.status is not None:
            raise HTTPException(rule.status, f"scripted error {rule.status}")
        return _completion(settings, body, rule, messages)

    return app


def _completion(
    settings: ScriptedSettings, body: dict[str, Any], rule: Rule, messages: list[dict[str, Any]]
) -> dict[str, Any]:
    tool_calls = [
        {
            "id": f"call_{uuid.uuid4().hex[:12]}",
            "type": "function",
            "function": {
                "name": call.name,
                "arguments": call.arguments
                if isinstance(call.arguments, str)
                else orjson.dumps(call.arguments).decode(),
            },
        }
        for call in rule.tool_calls
    ]
    message: dict[str, Any] = {"role": "assistant", "content": rule.reply or None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    prompt_ids = tokenize(render_prompt(messages))
    completion_ids = tokenize(render_message(message).removeprefix("<|im_start|>assistant\n"))
    completion_ids = completion_ids[:-1]  # the trailing newline belongs to the next prompt
    limit = body.get("max_tokens")
    finish_reason = rule.finish_reason or ("tool_calls" if tool_calls else "stop")
    if limit is not None and len(completion_ids) > limit:
        completion_ids, finish_reason = completion_ids[:limit], "length"
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish_reason}
    if body.get("logprobs"):
        choice["logprobs"] = {
            "content": [{"token": str(i), "logprob": SCRIPTED_LOGPROB} for i in completion_ids]
        }
    answer: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": settings.model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": len(prompt_ids),
            "completion_tokens": len(completion_ids),
            "total_tokens": len(prompt_ids) + len(completion_ids),
        },
    }
    if settings.shape == "vllm" and body.get("return_token_ids"):
        answer["prompt_token_ids"] = prompt_ids
        choice["token_ids"] = completion_ids
    return answer
