"""The chat-completions answer as the policy server returns it, and the turn read from it.

It is OpenAI's `chat.completion` with the token fields vLLM adds when asked
(`return_token_ids`): `prompt_token_ids` at the top, `token_ids` on each choice; logprobs in
OpenAI's `logprobs.content` form. The policy server puts every engine's answer into this shape
and adds `policy_version`, `token_ids_source` and `prompt_mode`, so the agent reads one shape,
and can read a vLLM server's own answer directly too.

A request may carry one RL Gym extension, `rl_gym_prefix` (`TokenPrefix`): the conversation
so far is already these token ids. Where the engine takes token prompts, the policy server
then generates from those ids followed by the new messages' ids, so every turn's prompt extends
the last by construction; elsewhere it renders the messages as usual and says so.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from gym_core.protocol import Message, PromptMode, TokenIdsSource, Turn

__all__ = [
    "PREFIX_FIELD",
    "SESSION_HEADER",
    "ChatChoice",
    "ChatCompletion",
    "TokenLogprob",
    "TokenPrefix",
    "is_context_overflow",
]

SESSION_HEADER = "X-Session-Id"
"""Sent with every policy call of one episode, so the policy server keeps the episode on one
engine replica (its prefix cache holds the conversation so far)."""
PREFIX_FIELD = "rl_gym_prefix"
"""The key of `TokenPrefix` in a chat request's body."""


class TokenPrefix(BaseModel):
    """RL Gym's extension to a chat request: generate from token ids, continuing these."""

    model_config = ConfigDict(extra="forbid")

    token_ids: list[Annotated[int, Field(ge=0)]] = Field(default_factory=list)
    """The previous turn's prompt ids followed by its completion ids; empty on the first
    turn (the opening messages are rendered whole)."""
    messages: Annotated[int, Field(ge=0)] = 0
    """How many of the request's messages those ids hold (through the assistant message the
    previous completion became); the messages after them are new."""


_CONTEXT_OVERFLOW = re.compile(
    r"context (length|window|size)|maximum context|context_length_exceeded"
    r"|longer than the model's",
    re.IGNORECASE,
)
"""How engines refuse a prompt that does not fit: vLLM ("maximum context length"), SGLang
("longer than the model's context length"), llama.cpp's server ("exceeds the available context
size"), OpenAI (`context_length_exceeded`), the embedded model ("the context window holds")."""


def is_context_overflow(refusal: str) -> bool:
    """True when an engine's refusal says the prompt outgrew its context window."""
    return _CONTEXT_OVERFLOW.search(refusal) is not None


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TokenLogprob(_Open):
    token: str = ""
    logprob: float


class ChoiceLogprobs(_Open):
    content: list[TokenLogprob] | None = None


class ChatChoice(_Open):
    index: int = 0
    message: Message
    finish_reason: str | None = None
    logprobs: ChoiceLogprobs | None = None
    token_ids: list[int] | None = None
    """Completion token ids (vLLM's field name)."""


class ChatCompletion(_Open):
    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    choices: list[ChatChoice]
    usage: dict[str, Any] | None = None
    prompt_token_ids: list[int] | None = None
    policy_version: int = 0
    token_ids_source: TokenIdsSource | None = None
    prompt_mode: PromptMode = "messages"

    def turn(self) -> tuple[Message, Turn]:
        """The assistant message of the first choice and the turn that produced it."""
        choice = self.choices[0]
        logprobs = None
        if choice.logprobs is not None and choice.logprobs.content is not None:
            logprobs = [entry.logprob for entry in choice.logprobs.content]
        has_ids = self.prompt_token_ids is not None and choice.token_ids is not None
        source = self.token_ids_source or ("engine" if has_ids else "none")
        message = choice.message.model_copy(update={"role": "assistant"})
        turn = Turn(
            prompt_token_ids=self.prompt_token_ids,
            completion_token_ids=choice.token_ids,
            completion_logprobs=logprobs,
            finish_reason=choice.finish_reason or "stop",
            policy_version=self.policy_version,
            token_ids_source=source,
            prompt_mode=self.prompt_mode,
            model=self.model or None,
        )
        return message, turn
