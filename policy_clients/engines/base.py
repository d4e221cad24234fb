"""What every engine behind the policy server does, and the one answer shape they all give.

An engine answers a chat request with an OpenAI `chat.completion` carrying the token fields vLLM
adds (`prompt_token_ids` at the top, `token_ids` per choice, logprobs in `logprobs.content`)
and `token_ids_source`: `engine` when the ids are exactly the engine's, `none` when it gives
text only. Answers are plain dicts: the gateway forwards them, it does not remodel them.

An engine that takes token prompts also offers `TokenPrompts`: the ids of messages rendered by
the model's own chat template, and a generation from ids. The policy server builds multi-turn
prompts from those (see `policy_clients.token_prompts`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "Engine",
    "EngineError",
    "Generated",
    "TokenPrompts",
    "chat_completion",
    "text_completion",
]


class EngineError(Exception):
    """The engine cannot answer this request (bad request, unsupported option)."""


class Engine(Protocol):
    """One replica: an inference server, or a model in this process."""

    name: str
    """How logs and errors refer to it: its URL, or `embedded:FILE`."""

    async def start(self) -> None:
        """Get ready (find out what the server is, load the model)."""

    async def chat(self, request: dict[str, Any]) -> dict[str, Any]:
        """A non-streaming chat completion, with token ids where the engine has them."""
        ...

    def chat_stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The same as `chat`, as `chat.completion.chunk` dicts."""
        ...

    async def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """A non-streaming text completion (`/v1/completions`)."""
        ...

    async def close(self) -> None: ...

    @property
    def token_prompts(self) -> TokenPrompts | None:
        """This engine's token-prompt interface, or None when it takes only messages (known
        after `start`)."""
        ...


@dataclass
class Generated:
    """A completion generated from a token prompt."""

    ids: list[int]
    """Every sampled id, the end-of-turn token included when the model produced one."""
    logprobs: list[float] | None
    text: str
    """What the answer shows: the sampled text without the end-of-turn token."""
    finish_reason: str
    """`stop` or `length`."""
    policy_version: int | None = None
    """The version the engine says it sampled with (a trainer's live policy does); None
    lets the policy server record its own."""


class TokenPrompts(Protocol):
    """What an engine that takes token prompts does for the policy server."""

    async def chat_ids(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        *,
        add_generation_prompt: bool,
    ) -> list[int]:
        """`messages` rendered by the model's chat template, as the engine tokenizes them."""
        ...

    async def generate(self, prompt_ids: list[int], request: dict[str, Any]) -> Generated:
        """Sample from `prompt_ids` with the request's sampling settings."""
        ...


def chat_completion(
    model: str,
    message: dict[str, Any],
    finish_reason: str,
    *,
    prompt_ids: list[int] | None,
    completion_ids: list[int] | None,
    logprobs: list[float] | None,
    tokens: list[str] | None = None,
    prompt_mode: str = "messages",
) -> dict[str, Any]:
    """A `chat.completion` dict with token fields, for engines RL Gym drives token by token."""
    choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish_reason}
    if logprobs is not None:
        texts = tokens or [""] * len(logprobs)
        choice["logprobs"] = {
            "content": [
                {"token": text, "logprob": value}
                for text, value in zip(texts, logprobs, strict=True)
            ]
        }
    if completion_ids is not None:
        choice["token_ids"] = completion_ids
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": _usage(prompt_ids, completion_ids),
        "prompt_token_ids": prompt_ids,
        "token_ids_source": "engine" if prompt_ids is not None and completion_ids else "none",
        "prompt_mode": prompt_mode,
    }


def text_completion(
    model: str,
    text: str,
    finish_reason: str,
    *,
    prompt_ids: list[int],
    completion_ids: list[int],
    logprobs: list[float],
    tokens: list[str],
) -> dict[str, Any]:
    """A `text_completion` dict (OpenAI's legacy logprobs form) with token fields."""
    return {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "text": text,
                "finish_reason": finish_reason,
                "logprobs": {"tokens": tokens, "token_logprobs": logprobs},
                "token_ids": completion_ids,
            }
        ],
        "usage": _usage(prompt_ids, completion_ids),
        "prompt_token_ids": prompt_ids,
        "token_ids_source": "engine",
    }


def _usage(prompt_ids: list[int] | None, completion_ids: list[int] | None) -> dict[str, int]:
    prompt = len(prompt_ids or ())
    completion = len(completion_ids or ())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
