"""A scripted inference engine that answers instantly: for tests, demos and benchmarks.

Each request is answered by the first rule whose `match` (a regular expression) is found in
the last message and whose `role` (if set) is that message's role. A rule replies with text,
tool calls, an HTTP error, after a delay, or never (`hang`: a stuck engine). Like a real
engine it generates at most `max_concurrency` answers at once, and more wait for a slot: a
request whose caller is gone must be released, or it holds its slot. Token ids come from a
byte-level tokenizer behind a ChatML template, so they are exact and prefix-consistent across
turns as a real engine's are. `shape` picks whose API it imitates, with that engine's
documented token fields:

- `vllm`: `/v1/chat/completions` and `/v1/completions` with `return_token_ids` (
  `prompt_token_ids` at the top of a chat answer and on each completion choice, `token_ids` per
  choice), streaming included, and `/tokenize` of messages or a prompt;
- `sglang`: its chat API (text and logprobs only) and its native `/generate`
  (`meta_info.input_token_logprobs` / `output_token_logprobs` as `[logprob, id, text]`);
- `llamacpp`: its chat API with an `id` on every logprob entry, `/apply-template`, `/tokenize`;
- `openai`: text and logprobs, no ids.

With `drop_past_thinking`, the template rewrites history as Qwen3's does: past assistant
messages are rendered without their `<think>...</think>` text.
With `record_requests`, it keeps every chat request it gets and shows them at `GET /requests`:
for tests that check what a policy is sent.
"""

from __future__ import annotations

import asyncio
import codecs
import itertools
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException

from gym_core.service import create_service_app, field_errors
from gym_core.settings import parse_settings
from policy_clients.tool_calls import render_tool_call

__all__ = [
    "CHATML_TEMPLATE",
    "ScriptedSettings",
    "create_app",
    "detokenize",
    "render_prompt",
    "tokenize",
]

IM_START = 256
IM_END = 257
SCRIPTED_LOGPROB = -0.125
DEFAULT_SCRIPTED_CONCURRENCY = 256
Shape = Literal["vllm", "sglang", "llamacpp", "openai"]
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""The template `render_prompt` implements (without tools), for engines whose prompt RL Gym
renders."""
_CHATML_BLOCK = re.compile(r"<\|im_start\|>(\w+)\n(.*?)<\|im_end\|>", re.DOTALL)
_THINKING = re.compile(r"<think>.*?</think>\s*", re.DOTALL)


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
    """The answer; `{seed}` in it becomes the request's sampling seed."""
    replies: list[str] = Field(default_factory=list)
    """Answered in turn, one per request the rule matches (instead of `reply`)."""
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    status: int | None = None
    """Answer with this HTTP error instead of a completion (`reply` is its message)."""
    delay_s: Annotated[float, Field(ge=0)] = 0.0
    hang: bool = False
    """Never answer: the request holds its slot until its caller hangs up."""


class ScriptedSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "scripted"
    model: str = "scripted"
    shape: Shape = "vllm"
    policy_version: int | None = None
    """Report this policy version in every answer, as a trainer's live policy does."""
    rules: list[Rule] = Field(default_factory=lambda: [Rule(reply="\\boxed{0}")])
    drop_past_thinking: bool = False
    """Render past assistant messages without their `<think>...</think>` text."""
    record_requests: bool = False
    """Keep the body of every chat request for `GET /requests` (off: benchmarks send many)."""
    max_concurrency: Annotated[int, Field(ge=1)] = DEFAULT_SCRIPTED_CONCURRENCY
    """Answers generated at once (vLLM's `max_num_seqs`); more wait for a slot. The metrics'
    `generating` gauge counts the slots taken."""


def tokenize(text: str) -> list[int]:
    """Byte-level ids, with the two template markers as their own ids."""
    ids: list[int] = []
    for index, piece in enumerate(re.split(r"(<\|im_start\|>|<\|im_end\|>)", text)):
        if index % 2:
            ids.append(IM_START if piece == "<|im_start|>" else IM_END)
        else:
            ids.extend(piece.encode())
    return ids


def detokenize(ids: list[int]) -> str:
    """The text of byte-level ids (`tokenize` undone)."""
    markers = {IM_START: b"<|im_start|>", IM_END: b"<|im_end|>"}
    return b"".join(markers.get(i) or bytes([i]) for i in ids).decode(errors="replace")


def render_message(message: dict[str, Any], *, drop_thinking: bool = False) -> str:
    content = message.get("content") or ""
    if drop_thinking and message["role"] == "assistant":
        content = _THINKING.sub("", content)
    for call in message.get("tool_calls") or []:
        content += render_tool_call(call["function"]["name"], call["function"]["arguments"])
    return f"<|im_start|>{message['role']}\n{content}<|im_end|>\n"


def render_prompt(
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    *,
    add_generation_prompt: bool = True,
    drop_thinking: bool = False,
) -> str:
    """ChatML; offered tools come first, in a system block of their own."""
    rendered = "".join(render_message(m, drop_thinking=drop_thinking) for m in messages)
    if tools:
        offered = orjson.dumps(tools).decode()
        rendered = f"<|im_start|>system\n<tools>{offered}</tools><|im_end|>\n{rendered}"
    return rendered + ("<|im_start|>assistant\n" if add_generation_prompt else "")


def _last_message(text: str) -> tuple[str | None, str]:
    """The role and content of the last message rendered in `text` (the whole text if none)."""
    blocks = _CHATML_BLOCK.findall(text)
    return blocks[-1] if blocks else (None, text)


TokenId = Annotated[int, Field(ge=0, le=IM_END)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | None = None


class _EngineRequest(BaseModel):
    """What the engine reads of a request. A real engine answers 400 to a request it cannot
    read, so this one does too, naming the field, instead of failing with a 500."""

    model_config = ConfigDict(extra="allow")

    messages: list[_Message] = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    prompt: str | list[TokenId] = ""
    input_ids: list[TokenId] | None = None
    text: str = ""
    max_tokens: Annotated[int, Field(ge=0)] | None = None
    seed: int | None = None

    @classmethod
    def read(cls, raw: bytes) -> tuple[_EngineRequest, dict[str, Any]]:
        """The request checked, and the body as sent (which the template renders)."""
        try:
            body = orjson.loads(raw)
            return cls.model_validate(body), body
        except orjson.JSONDecodeError as error:
            raise HTTPException(400, f"the body is not JSON: {error}") from None
        except ValidationError as error:
            raise HTTPException(400, field_errors(error.errors())) from None


class _Reply:
    """A rule's answer as an engine would produce it: message, text and token ids."""

    def __init__(self, rule: Rule, max_tokens: int | None) -> None:
        self.tool_calls = [
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
        self.message: dict[str, Any] = {"role": "assistant", "content": rule.reply or None}
        if self.tool_calls:
            self.message["tool_calls"] = self.tool_calls
        self.text = render_message(self.message).removeprefix("<|im_start|>assistant\n")[:-1]
        self.ids = tokenize(
            self.text
        )  # ends with <|im_end|>: the newline belongs to the next prompt
        self.finish_reason = rule.finish_reason or ("tool_calls" if self.tool_calls else "stop")
        if max_tokens is not None and len(self.ids) > max_tokens:
            self.ids, self.finish_reason = self.ids[:max_tokens], "length"

    @property
    def visible_text(self) -> str:
        return self.text.removesuffix("<|im_end|>")


def create_app(raw_settings: dict[str, Any]) -> FastAPI:
    settings = parse_settings(ScriptedSettings, raw_settings, "scripted engine settings")
    rules = [(re.compile(rule.match), rule) for rule in settings.rules]
    turns = [itertools.count() for _ in rules]
    received: list[dict[str, Any]] = []
    slots = asyncio.Semaphore(settings.max_concurrency)
    app = create_service_app(settings.name)
    generating = app.state.metrics.gauge("generating", "Requests holding a slot now.")

    def render(body: dict[str, Any]) -> str:
        """The prompt of a chat request, or of a `/tokenize` or `/apply-template` one."""
        return render_prompt(
            body["messages"],
            body.get("tools"),
            add_generation_prompt=body.get("add_generation_prompt", True),
            drop_thinking=settings.drop_past_thinking,
        )

    async def answer(role: str | None, content: str, seed: Any = None) -> Rule:
        async with slots:
            generating.inc()
            try:
                return await pick_reply(role, content, seed)
            finally:
                generating.dec()

    async def pick_reply(role: str | None, content: str, seed: Any) -> Rule:
        for (pattern, rule), turn in zip(rules, turns, strict=True):
            if rule.role in (None, role) and pattern.search(content):
                if rule.hang:
                    await asyncio.Event().wait()
                if rule.delay_s:
                    await asyncio.sleep(rule.delay_s)
                if rule.status is not None:
                    raise HTTPException(rule.status, rule.reply or f"scripted error {rule.status}")
                reply = rule.replies[next(turn) % len(rule.replies)] if rule.replies else rule.reply
                # `{seed}` lets tests see the seed each request carried
                return rule.model_copy(update={"reply": reply.replace("{seed}", str(seed))})
        raise HTTPException(400, "no scripted rule matches the last message")

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        owner = "system" if settings.shape == "openai" else settings.shape
        return {
            "object": "list",
            "data": [{"id": settings.model, "object": "model", "owned_by": owner}],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> dict[str, Any] | StreamingResponse:
        checked, body = _EngineRequest.read(await request.body())
        if settings.record_requests:
            received.append(body)
        last = checked.messages[-1] if checked.messages else _Message(role="")
        rule = await answer(last.role or None, last.content or "", checked.seed)
        reply = _Reply(rule, checked.max_tokens)
        prompt_ids = tokenize(render(body))
        with_ids = settings.shape == "vllm" and body.get("return_token_ids")
        if body.get("stream"):
            chunks = _stream_chunks(settings, reply, prompt_ids if with_ids else None)
            return StreamingResponse(chunks, media_type="text/event-stream")
        choice: dict[str, Any] = {
            "index": 0,
            "message": reply.message,
            "finish_reason": reply.finish_reason,
        }
        if body.get("logprobs"):
            entries = [{"token": str(i), "logprob": SCRIPTED_LOGPROB} for i in reply.ids]
            if settings.shape == "llamacpp":
                entries = [{**entry, "id": i} for entry, i in zip(entries, reply.ids, strict=True)]
            choice["logprobs"] = {"content": entries}
        completion = _envelope(settings, "chat.completion", choice, prompt_ids, reply.ids)
        if with_ids:
            completion["prompt_token_ids"] = prompt_ids
            choice["token_ids"] = reply.ids
        return completion

    @app.get("/requests")
    async def requests() -> dict[str, list[dict[str, Any]]]:
        """The chat requests received so far, oldest first (empty without `record_requests`)."""
        return {"requests": received}

    @app.post("/v1/completions")
    async def completions(request: Request) -> dict[str, Any]:
        checked, body = _EngineRequest.read(await request.body())
        prompt = checked.prompt
        prompt_ids = prompt if isinstance(prompt, list) else tokenize(prompt)
        last = _last_message(detokenize(prompt_ids))
        reply = _Reply(await answer(*last, checked.seed), checked.max_tokens)
        choice = {
            "index": 0,
            "text": reply.visible_text,
            "finish_reason": reply.finish_reason,
            "logprobs": {
                "tokens": [str(i) for i in reply.ids],
                "token_logprobs": [SCRIPTED_LOGPROB] * len(reply.ids),
            },
        }
        if body.get("return_token_ids"):
            choice["prompt_token_ids"] = prompt_ids
            choice["token_ids"] = reply.ids
        return _envelope(settings, "text_completion", choice, prompt_ids, reply.ids)

    @app.post("/generate")
    async def generate(request: Request) -> dict[str, Any]:
        """SGLang's native endpoint."""
        checked, body = _EngineRequest.read(await request.body())
        prompt_ids = checked.input_ids or tokenize(checked.text)
        sampling = body.get("sampling_params") or {}
        if sampling.get("max_new_tokens") == 0:  # prefill only: tokenizes, samples nothing
            rule = Rule()
        else:
            rule = await answer(*_last_message(detokenize(prompt_ids)))
        reply = _Reply(rule, sampling.get("max_new_tokens"))
        kind = "length" if reply.finish_reason == "length" else "stop"
        return {
            "text": reply.visible_text,
            "output_ids": reply.ids,
            "meta_info": {
                "prompt_tokens": len(prompt_ids),
                "completion_tokens": len(reply.ids),
                "finish_reason": {"type": kind},
                "input_token_logprobs": [
                    [None if i == 0 else SCRIPTED_LOGPROB, token, None]
                    for i, token in enumerate(prompt_ids)
                ],
                "output_token_logprobs": [[SCRIPTED_LOGPROB, token, None] for token in reply.ids],
            },
        }

    @app.post("/apply-template")
    async def apply_template(request: Request) -> dict[str, str]:
        """llama.cpp's server."""
        return {"prompt": render(orjson.loads(await request.body()))}

    @app.post("/tokenize")
    async def tokenize_text(request: Request) -> dict[str, Any]:
        """vLLM's (`messages` or `prompt`) and llama.cpp's server's (`content`)."""
        body = orjson.loads(await request.body())
        if "messages" in body:
            ids = tokenize(render(body))
        else:
            ids = tokenize(body.get("prompt", body.get("content", "")))
        return {"tokens": ids, "count": len(ids)}

    return app


def _envelope(
    settings: ScriptedSettings,
    kind: str,
    choice: dict[str, Any],
    prompt_ids: list[int],
    completion_ids: list[int],
) -> dict[str, Any]:
    envelope = {
        "id": f"cmpl-{uuid.uuid4().hex[:16]}",
        "object": kind,
        "created": int(time.time()),
        "model": settings.model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": len(prompt_ids),
            "completion_tokens": len(completion_ids),
            "total_tokens": len(prompt_ids) + len(completion_ids),
        },
    }
    if settings.policy_version is not None:
        envelope["policy_version"] = settings.policy_version
    return envelope


async def _stream_chunks(
    settings: ScriptedSettings, reply: _Reply, prompt_ids: list[int] | None
) -> AsyncIterator[bytes]:
    """vLLM-style chunks: the prompt's ids first, then a few completion tokens a chunk."""
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion.chunk",
        "model": settings.model,
    }
    first: dict[str, Any] = {**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
    if prompt_ids is not None:
        first["prompt_token_ids"] = prompt_ids
    yield b"data: " + orjson.dumps(first) + b"\n\n"
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for start in range(0, len(reply.ids), 4):
        ids = reply.ids[start : start + 4]
        delta = {"content": decoder.decode(bytes(i for i in ids if i < IM_START))}
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if prompt_ids is not None:
            choice["token_ids"] = ids
        yield b"data: " + orjson.dumps({**base, "choices": [choice]}) + b"\n\n"
    final = {"index": 0, "delta": {}, "finish_reason": reply.finish_reason}
    yield b"data: " + orjson.dumps({**base, "choices": [final]}) + b"\n\n"
    yield b"data: [DONE]\n\n"
