"""The live policy's HTTP API: the part of vLLM's OpenAI-compatible server that RL Gym uses.

    GET  /v1/models             owned_by `rl-gym-live` (the policy server reads it as vLLM)
    POST /v1/chat/completions   messages (+ tools) -> chat.completion with token ids
    POST /v1/completions        a text or token-id prompt -> text_completion with token ids
    POST /tokenize              {"prompt"} or {"messages", "add_generation_prompt", "tools"}
    POST /detokenize            {"tokens"} -> {"prompt"}

Answers carry vLLM's token fields (`prompt_token_ids` at the top, `token_ids` per choice),
the logprob of every completion token under the distribution it was sampled from, and
`policy_version`: the version of the weights that produced the first token.

Prompts are rendered with the tokenizer's chat template by the renderer the embedded engine
uses: a template that knows tools gets them; for one that does not, the tools are described in
the system message and calls are read back from `<tool_call>` blocks. No streaming and one
choice per request (`stream: true` or `n` > 1 is a 422 naming the field).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException

from gym_core.protocol import Message, ToolSchema
from gym_core.service import create_service_app
from policy_clients.chat_template import ChatTemplate, assistant_reply
from policy_clients.engines.base import chat_completion, text_completion
from trainers.live_engine import Completion, LiveEngine
from trainers.live_sampling import Sampling

__all__ = ["OWNED_BY", "create_live_app"]

OWNED_BY = "rl-gym-live"
NEUTRAL_OPTIONS = {
    "min_p": 0.0,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "repetition_penalty": 1.0,
}
"""Sampling options the live policy does not implement, accepted only at the value that
changes nothing, so that the reported logprobs stay those of the distribution sampled."""


class SamplingFields(BaseModel):
    model_config = ConfigDict(extra="allow")

    temperature: Annotated[float, Field(ge=0)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    top_k: Annotated[int, Field(ge=-1)] | None = None
    """0 or -1: no limit."""
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    n: Literal[1] = 1
    stream: Literal[False] = False

    @model_validator(mode="after")
    def _neutral(self) -> SamplingFields:
        for name, neutral in NEUTRAL_OPTIONS.items():
            value = (self.model_extra or {}).get(name)
            if value is not None and value != neutral:
                raise ValueError(
                    f"{name}: the live policy samples with temperature, top_p and top_k only "
                    f"(leave {name} out or set it to {neutral})"
                )
        return self

    def sampling(self) -> Sampling:
        return Sampling(
            temperature=1.0 if self.temperature is None else self.temperature,
            top_p=self.top_p or 1.0,
            top_k=self.top_k or 0,
        )

    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else [s for s in self.stop or [] if s]


class ChatRequest(SamplingFields):
    messages: Annotated[list[Message], Field(min_length=1)]
    tools: list[ToolSchema] | None = None
    tool_choice: Literal["auto", "none"] | None = None
    """Only the model decides whether to call a tool: the live policy cannot force a call."""


class CompletionRequest(SamplingFields):
    prompt: str | Annotated[list[int], Field(min_length=1)]
    add_special_tokens: bool = True


class TokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt: str | None = None
    messages: Annotated[list[Message], Field(min_length=1)] | None = None
    tools: list[ToolSchema] | None = None
    add_generation_prompt: bool = True
    add_special_tokens: bool | None = None
    """Default: True for a prompt, False for messages (the template writes them), as vLLM."""

    @model_validator(mode="after")
    def _one_input(self) -> TokenizeRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of prompt and messages")
        return self


class DetokenizeRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    tokens: list[int]


@dataclass
class LiveState:
    """What the handlers share, kept in `app.state.live`."""

    engine: LiveEngine
    tokenizer: Any
    template: ChatTemplate | None
    model_name: str
    vocabulary: int

    def render(
        self, messages: list[Message], tools: list[ToolSchema] | None, *, opened: bool
    ) -> str:
        if self.template is None:
            raise HTTPException(
                400,
                "messages: the tokenizer has no chat template; send a prompt to /v1/completions",
            )
        try:
            return self.template.render(
                [message.model_dump(exclude_none=True) for message in messages],
                [tool.model_dump() for tool in tools] if tools else None,
                add_generation_prompt=opened,
            )
        except Exception as error:
            raise HTTPException(
                400, f"messages: cannot render the chat template: {error}"
            ) from None

    def encode(self, text: str, *, special: bool) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=special).input_ids)

    def check_ids(self, field: str, ids: list[int]) -> None:
        bad = [token for token in ids if not 0 <= token < self.vocabulary]
        if bad:
            raise HTTPException(
                400,
                f"{field}: token id {bad[0]} is outside the vocabulary (0 to "
                f"{self.vocabulary - 1})",
            )

    async def generate(self, field: str, prompt_ids: list[int], body: SamplingFields) -> Completion:
        room = self.engine.context - len(prompt_ids)
        if room <= 0:
            raise HTTPException(
                400,
                f"{field}: the prompt has {len(prompt_ids)} tokens; the model's context holds "
                f"{self.engine.context}",
            )
        if self.engine.closed:
            raise HTTPException(503, "the live policy is closed")
        future = self.engine.submit(
            prompt_ids,
            max_tokens=body.max_tokens or body.max_completion_tokens or room,
            sampling=body.sampling(),
            stop=body.stops(),
            seed=body.seed,
        )
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if not self.engine.closed:  # the request itself was cancelled
                raise
            raise HTTPException(503, "the live policy closed before the answer was done") from None

    def text(self, completion: Completion, stops: list[str]) -> tuple[str, list[str]]:
        """The completion's text (without a final end token, cut before a stop string) and
        each token's own text."""
        ids = completion.ids
        if ids and ids[-1] in self.engine.end_ids:
            ids = ids[:-1]
        text = self.tokenizer.decode(ids, skip_special_tokens=False)
        cut = min((text.find(s) for s in stops if s in text), default=len(text))
        pieces = self.tokenizer.batch_decode([[token] for token in completion.ids])
        return text[:cut], pieces


def create_live_app(state: LiveState) -> FastAPI:
    app = create_service_app("live-policy")
    app.state.live = state
    app.get("/v1/models")(models)
    app.post("/v1/chat/completions")(chat_completions)
    app.post("/v1/completions")(completions)
    app.post("/tokenize")(tokenize)
    app.post("/detokenize")(detokenize)
    return app


async def models(request: Request) -> dict[str, Any]:
    live: LiveState = request.app.state.live
    entry = {
        "id": live.model_name,
        "object": "model",
        "owned_by": OWNED_BY,
        "max_model_len": live.engine.context,
    }
    return {"object": "list", "data": [entry]}


async def chat_completions(body: ChatRequest, request: Request) -> dict[str, Any]:
    live: LiveState = request.app.state.live

    def prompt_ids() -> list[int]:
        return live.encode(live.render(body.messages, body.tools, opened=True), special=False)

    ids = await asyncio.to_thread(prompt_ids)
    completion = await live.generate("messages", ids, body)

    def answer() -> dict[str, Any]:
        text, pieces = live.text(completion, body.stops())
        with_tools = bool(body.tools) and body.tool_choice != "none"
        message, finish_reason = assistant_reply(
            text, completion.finish_reason, with_tools=with_tools
        )
        return chat_completion(
            live.model_name,
            message,
            finish_reason,
            prompt_ids=ids,
            completion_ids=completion.ids,
            logprobs=completion.logprobs,
            tokens=pieces,
        )

    return {**await asyncio.to_thread(answer), "policy_version": completion.policy_version}


async def completions(body: CompletionRequest, request: Request) -> dict[str, Any]:
    live: LiveState = request.app.state.live
    if isinstance(body.prompt, str):
        ids = await asyncio.to_thread(live.encode, body.prompt, special=body.add_special_tokens)
    else:
        ids = body.prompt
        live.check_ids("prompt", ids)
    completion = await live.generate("prompt", ids, body)
    text, pieces = await asyncio.to_thread(live.text, completion, body.stops())
    answer = text_completion(
        live.model_name,
        text,
        completion.finish_reason,
        prompt_ids=ids,
        completion_ids=completion.ids,
        logprobs=completion.logprobs,
        tokens=pieces,
    )
    return {**answer, "policy_version": completion.policy_version}


async def tokenize(body: TokenizeRequest, request: Request) -> dict[str, Any]:
    live: LiveState = request.app.state.live

    def ids() -> list[int]:
        if body.messages is not None:
            text = live.render(body.messages, body.tools, opened=body.add_generation_prompt)
            return live.encode(text, special=bool(body.add_special_tokens))
        special = True if body.add_special_tokens is None else body.add_special_tokens
        return live.encode(body.prompt or "", special=special)

    tokens = await asyncio.to_thread(ids)
    return {"count": len(tokens), "max_model_len": live.engine.context, "tokens": tokens}


async def detokenize(body: DetokenizeRequest, request: Request) -> dict[str, str]:
    live: LiveState = request.app.state.live
    live.check_ids("tokens", body.tokens)
    text = await asyncio.to_thread(live.tokenizer.decode, body.tokens, skip_special_tokens=False)
    return {"prompt": text}
