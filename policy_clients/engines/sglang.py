"""SGLang, with exact token ids through its native `/generate` endpoint.

SGLang's OpenAI chat API returns text and logprobs but no token ids. Its native `/generate`
does: with `return_logprob` and `logprob_start_len: 0`, `meta_info.input_token_logprobs` holds
every prompt token's id and `meta_info.output_token_logprobs` every completion token's
`[logprob, id, text]`, all as the engine itself tokenized them. `/generate` takes text, so
the policy server renders the model's chat template (`policy.chat_template`, the model's
`tokenizer_config.json` or a `.jinja` file) and parses tool calls from the completion.

With a chat template it also takes token prompts (`TokenPrompts`): `/generate` with
`input_ids`, and messages tokenized by a `/generate` of their rendering that samples nothing.
Without a chat template it falls back to SGLang's chat API, and says so: text and logprobs,
`token_ids_source: none`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from gym_core.http_client import HttpClient
from gym_core.redaction import redact_url
from policy_clients.chat_template import ChatTemplate
from policy_clients.engines.base import Generated, TokenPrompts, chat_completion, text_completion
from policy_clients.engines.openai_http import OpenAIHttpEngine
from policy_clients.tool_calls import assistant_reply

__all__ = ["SGLangEngine"]

log = logging.getLogger("rl_gym.policy")

_SAMPLING_KEYS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "max_tokens": "max_new_tokens",
    "max_completion_tokens": "max_new_tokens",
    "stop": "stop",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "repetition_penalty": "repetition_penalty",
    "seed": "sampling_seed",
}


class SGLangEngine:
    def __init__(
        self,
        http: HttpClient,
        base_url: str,
        *,
        model: str | None,
        template: ChatTemplate | None,
        api_key: str | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.name = redact_url(self.base_url)
        """How logs and `/admin/status` show this engine: its URL, any secret in it hidden."""
        self.template = template
        self._chat_api = OpenAIHttpEngine(
            http, base_url, kind="sglang", model=model, api_key=api_key
        )
        self._headers = self._chat_api.headers

    @property
    def model(self) -> str | None:
        return self._chat_api.model

    async def start(self) -> None:
        await self._chat_api.start()
        if self.template is None:
            log.warning(
                "%s is SGLang: without policy.chat_template its answers carry no token ids",
                self.name,
            )

    async def chat(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.template is None:
            return await self._chat_api.chat(request)
        tools = request.get("tools") or None
        prompt = self.template.render(request["messages"], tools)
        answer = await self._generate({"text": prompt}, request)
        meta = answer["meta_info"]
        prompt_ids = [entry[1] for entry in meta["input_token_logprobs"]]
        completion_ids, logprobs = _completion_tokens(answer)
        message, finish_reason = assistant_reply(
            answer.get("text", ""),
            _finish_reason(meta),
            with_tools=bool(tools) and request.get("tool_choice") != "none",
        )
        return chat_completion(
            self.model or "sglang",
            message,
            finish_reason,
            prompt_ids=prompt_ids,
            completion_ids=completion_ids,
            logprobs=logprobs,
        )

    @property
    def token_prompts(self) -> TokenPrompts | None:
        return self if self.template is not None else None

    async def chat_ids(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        *,
        add_generation_prompt: bool,
    ) -> list[int]:
        assert self.template is not None, "token prompts need policy.chat_template"
        text = self.template.render(messages, tools, add_generation_prompt=add_generation_prompt)
        answer = await self._generate({"text": text}, {"max_tokens": 0})
        return [entry[1] for entry in answer["meta_info"]["input_token_logprobs"]]

    async def generate(self, prompt_ids: list[int], request: dict[str, Any]) -> Generated:
        answer = await self._generate({"input_ids": prompt_ids}, request)
        ids, logprobs = _completion_tokens(answer)
        return Generated(
            ids=ids,
            logprobs=logprobs,
            text=answer.get("text", ""),
            finish_reason=_finish_reason(answer["meta_info"]),
        )

    def chat_stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Streams through SGLang's chat API (text and logprobs; ids need non-streaming)."""
        return self._chat_api.chat_stream(request)

    async def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        prompt = request.get("prompt")
        key = "input_ids" if isinstance(prompt, list) else "text"
        answer = await self._generate({key: prompt}, request)
        meta = answer["meta_info"]
        completion_ids, logprobs = _completion_tokens(answer)
        return text_completion(
            self.model or "sglang",
            answer.get("text", ""),
            _finish_reason(meta),
            prompt_ids=[entry[1] for entry in meta["input_token_logprobs"]],
            completion_ids=completion_ids,
            logprobs=logprobs,
            tokens=[entry[2] or "" for entry in meta["output_token_logprobs"]],
        )

    async def close(self) -> None:
        await self._chat_api.close()

    async def _generate(self, prompt: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        sampling = {
            ours: request[theirs]
            for theirs, ours in _SAMPLING_KEYS.items()
            if request.get(theirs) is not None
        }
        body = {
            **prompt,
            "sampling_params": sampling,
            "return_logprob": True,
            "logprob_start_len": 0,
        }
        answer: dict[str, Any] = await self.http.post(
            f"{self.base_url}/generate", body, headers=self._headers
        )
        return answer


def _completion_tokens(answer: dict[str, Any]) -> tuple[list[int], list[float]]:
    entries = answer["meta_info"]["output_token_logprobs"]
    return [entry[1] for entry in entries], [float(entry[0]) for entry in entries]


def _finish_reason(meta: dict[str, Any]) -> str:
    reason = meta.get("finish_reason") or {}
    kind = reason.get("type") if isinstance(reason, dict) else reason
    return "length" if kind == "length" else "stop"
