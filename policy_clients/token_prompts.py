"""Multi-turn prompts built from token ids, so that an episode is one token sequence by
construction.

A turn's prompt is the previous turn's prompt and completion ids followed by the ids of what
the chat template puts between that completion and the next generation: the rest of the
assistant turn the model did not sample itself (e.g. the newline after `<|im_end|>`), the new
messages (tool outputs, the user's next message) and the generation prompt. Past turns are
never rendered again, so a template that rewrites history (drops earlier reasoning, re-renders
tool calls) cannot change what the model saw.

The new messages' ids come from the model's own template and tokenizer (the engine's; a
rendering that several requests ask for, a GRPO group's first prompt, is asked of it once:
`renderings.py`), rendered after a fixed stand-in exchange whose ids are then cut off:

    render([user, assistant "a", *new], with the generation prompt)
      = <user turn> <assistant header> "a" <closing> <new messages> <generation prompt>

The same rendered with assistant "b" differs only in that one token, so the tail the two
share is exactly what follows an assistant's content (the closing, e.g. `<|im_end|>\n`, then
the new messages and the generation prompt). Two renderings that each end with the assistant
would not do: some servers (llama.cpp's) treat a final assistant message as a prefill and leave
it open. A completion that ended itself already holds the start of that tail (its end-of-turn
token); only the rest is added. A template this cannot cut gets the whole conversation
rendered instead (`prompt_mode: messages`), with a warning.

Completions are parsed into assistant messages by `policy_clients.tool_calls` (the
`<tool_call>{...}</tool_call>` form). Where the template knows nothing of tools (it renders the
same with and without them), the tools are folded into the messages as text, as the embedded
model's template is, so that the model learns of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from gym_core.chat_api import TokenPrefix
from gym_core.protocol import PromptMode
from policy_clients.engines.base import Engine, TokenPrompts, chat_completion
from policy_clients.renderings import Renderings
from policy_clients.tool_calls import assistant_reply, fold_tools_into_text

__all__ = ["TokenChat", "TokenChats", "chat_by_messages"]

log = logging.getLogger("rl_gym.policy")

MAX_TOOL_SETS = 256
"""Template measurements remembered per engine (one per distinct tool set)."""
_USER = {"role": "user", "content": "."}
_CONTENTS = ("a", "b")
"""Two stand-in assistant contents: what their renderings share at the end follows them."""

Messages = list[dict[str, Any]]
Tools = list[dict[str, Any]] | None


@dataclass(frozen=True)
class Frame:
    """What one template does around a turn, for one tool set."""

    tools_key: bytes
    """The tool set, serialized once: the frames' key and part of every rendering's."""
    fold_tools: bool
    """The template ignores tools: RL Gym describes them in the messages instead."""
    user_ids: list[int]
    """The stand-in user turn alone (with what the template puts before it)."""


class TokenChat:
    """Chat completions generated from token prompts by one engine."""

    def __init__(self, engine: TokenPrompts, model: str) -> None:
        self.engine = engine
        self.model = model
        self._frames: OrderedDict[bytes, Frame] = OrderedDict()
        self._renderings = Renderings()

    async def complete(self, request: dict[str, Any], prefix: TokenPrefix) -> dict[str, Any]:
        """A `chat.completion` (with `prompt_mode`) for `request`, continuing `prefix`."""
        tools = request.get("tools") or None
        prompt_ids, mode = await self.prompt(request["messages"], tools, prefix)
        generated = await self.engine.generate(prompt_ids, request)
        message, finish_reason = assistant_reply(
            generated.text,
            generated.finish_reason,
            with_tools=bool(tools) and request.get("tool_choice") != "none",
        )
        completion = chat_completion(
            self.model,
            message,
            finish_reason,
            prompt_ids=prompt_ids,
            completion_ids=generated.ids,
            logprobs=generated.logprobs,
            prompt_mode=mode,
        )
        if generated.policy_version is not None:
            completion["policy_version"] = generated.policy_version
        return completion

    async def prompt(
        self, messages: Messages, tools: Tools, prefix: TokenPrefix
    ) -> tuple[list[int], PromptMode]:
        """The prompt's ids: `prefix` and the new messages' ids where the template allows,
        else the whole conversation rendered."""
        frame = await self._frame(tools)
        if not prefix.token_ids:
            return await self._ids(frame, messages, tools, generation=True), "tokens"
        new = messages[prefix.messages :]
        first, second = await asyncio.gather(
            *(
                self._ids(frame, [_USER, _assistant(content), *new], tools, generation=True)
                for content in _CONTENTS
            )
        )
        after = _after_the_assistant(first, second, frame.user_ids)
        if after is None:
            log.warning(
                "%s: the chat template does not render new messages after a past turn in a "
                "way RL Gym can cut out; rendering the whole conversation",
                self.model,
            )
            return await self._ids(frame, messages, tools, generation=True), "messages"
        return prefix.token_ids + after[_held(prefix.token_ids, after) :], "tokens"

    async def _ids(
        self, frame: Frame, messages: Messages, tools: Tools, *, generation: bool
    ) -> list[int]:
        async def render() -> list[int]:
            shown, given = messages, tools
            if frame.fold_tools:
                shown, given = fold_tools_into_text(messages, tools), None
            return await self.engine.chat_ids(shown, given, add_generation_prompt=generation)

        asked = orjson.dumps([messages, generation], option=orjson.OPT_SORT_KEYS)
        return await self._renderings.get((frame.tools_key, asked), render)

    async def _frame(self, tools: Tools) -> Frame:
        key = orjson.dumps(tools, option=orjson.OPT_SORT_KEYS)
        frame = self._frames.get(key)
        if frame is None:
            frame = self._frames[key] = await self._measure(tools, key)
            while len(self._frames) > MAX_TOOL_SETS:
                self._frames.popitem(last=False)
        return frame

    async def _measure(self, tools: Tools, tools_key: bytes) -> Frame:
        fold = False
        if tools:
            told = await self.engine.chat_ids([_USER], tools, add_generation_prompt=False)
            untold = await self.engine.chat_ids([_USER], None, add_generation_prompt=False)
            fold = told == untold
        draft = Frame(tools_key, fold_tools=fold, user_ids=[])
        return Frame(tools_key, fold, await self._ids(draft, [_USER], tools, generation=False))


class TokenChats:
    """The policy server's token-prompt chats: one per engine that takes token prompts."""

    def __init__(self) -> None:
        self._chats: dict[int, TokenChat] = {}

    async def complete(
        self, engine: Engine, request: dict[str, Any], prefix: TokenPrefix
    ) -> dict[str, Any]:
        """From token ids where `engine` takes them, else from messages as usual."""
        tokens = engine.token_prompts
        if tokens is None:
            return await chat_by_messages(engine, request)
        chat = self._chats.get(id(engine))
        if chat is None:
            model = str(getattr(engine, "model", None) or "default")
            chat = self._chats[id(engine)] = TokenChat(tokens, model)
        return await chat.complete(request, prefix)


async def chat_by_messages(engine: Engine, request: dict[str, Any]) -> dict[str, Any]:
    """The engine's own chat completion, which says it rendered the messages."""
    answer = await engine.chat(request)
    answer.setdefault("prompt_mode", "messages")
    return answer


def _assistant(content: str) -> dict[str, Any]:
    return {"role": "assistant", "content": content}


def _after_the_assistant(
    first: list[int], second: list[int], user_ids: list[int]
) -> list[int] | None:
    """What follows the stand-in assistant's content in both renderings, if they render the
    stand-in user turn as measured and differ in the content."""
    if first[: len(user_ids)] != user_ids or second[: len(user_ids)] != user_ids:
        return None
    size = 0
    limit = min(len(first), len(second)) - len(user_ids)
    while size < limit and first[-1 - size] == second[-1 - size]:
        size += 1
    if size == 0 or size == limit:
        return None
    return first[len(first) - size :]


def _held(completion: list[int], after: list[int]) -> int:
    """How much of `after` the completion already ends with (one that ended itself holds the
    end-of-turn token)."""
    for size in range(min(len(after), len(completion)), 0, -1):
        if completion[-size:] == after[:size]:
            return size
    return 0
