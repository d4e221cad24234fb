"""Engines that speak OpenAI's chat API over HTTP: vLLM, llama.cpp's server, OpenAI.

Each is asked for token ids in its own terms:
- vLLM: `return_token_ids` gives `prompt_token_ids` and each choice's `token_ids`;
- llama.cpp's server: `logprobs` entries carry each completion token's `id`, and the prompt's
  ids come from its own `/apply-template` and `/tokenize` (checked against the prompt length
  the completion reports, so a mismatch is never passed on as exact);
- OpenAI (and any engine we cannot identify): text and logprobs only, `token_ids_source: none`.

vLLM (and the live policy, which speaks its dialect) and llama.cpp's server also take token
prompts (`TokenPrompts`): vLLM renders and tokenizes messages in `/tokenize` and generates from
ids in `/v1/completions`; llama.cpp's server in `/apply-template` + `/tokenize` and
`/completion`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

import orjson

from gym_core.errors import ServiceError
from gym_core.http_client import HttpClient
from gym_core.redaction import redact_url
from policy_clients.engines.base import Generated, TokenPrompts

__all__ = ["HttpEngineKind", "OpenAIHttpEngine", "detect_kind"]

log = logging.getLogger("rl_gym.policy")

HttpEngineKind = Literal["vllm", "sglang", "llamacpp", "openai"]
_OWNERS: dict[str, HttpEngineKind] = {
    "vllm": "vllm",
    "rl-gym-live": "vllm",
    "sglang": "sglang",
    "llamacpp": "llamacpp",
}
_CHAT_ONLY = {
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "logprobs",
    "top_logprobs",
    "stream",
    "stream_options",
    "max_completion_tokens",
}
"""Chat request keys a completion from token ids does not take (the rest is sampling)."""
_LLAMACPP_SAMPLING = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "seed": "seed",
    "stop": "stop",
    "max_tokens": "n_predict",
    "max_completion_tokens": "n_predict",
    "repetition_penalty": "repeat_penalty",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


async def detect_kind(http: HttpClient, base_url: str) -> tuple[HttpEngineKind, str | None]:
    """The engine's kind and its first model, from `GET /v1/models` (`owned_by`)."""
    answer = await http.get(f"{base_url}/v1/models")
    models = answer.get("data") or [] if isinstance(answer, dict) else []
    if not models:
        return "openai", None
    first = models[0]
    return _OWNERS.get(str(first.get("owned_by", "")).lower(), "openai"), first.get("id")


class OpenAIHttpEngine:
    """One OpenAI-compatible server."""

    def __init__(
        self,
        http: HttpClient,
        base_url: str,
        *,
        kind: HttpEngineKind | Literal["auto"],
        model: str | None,
        api_key: str | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.name = redact_url(self.base_url)
        """How logs and `/admin/status` show this engine: its URL, any secret in it hidden."""
        self.kind = kind
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else None

    async def start(self) -> None:
        if self.kind != "auto" and self.model:
            return
        kind, served = await detect_kind(self.http, self.base_url)
        if self.kind == "auto":
            self.kind = kind
            if kind == "sglang":
                log.warning(
                    "%s is SGLang: set policy.engine: sglang and policy.chat_template for "
                    "exact token ids",
                    self.name,
                )
        self.model = self.model or served

    async def chat(self, request: dict[str, Any]) -> dict[str, Any]:
        body = self._body(request, stream=False)
        if self.kind == "llamacpp":
            answer, prompt_ids = await asyncio.gather(
                self._post("/v1/chat/completions", body), self._llamacpp_prompt_ids(request)
            )
            return _with_llamacpp_ids(answer, prompt_ids)
        answer = await self._post("/v1/chat/completions", body)
        return _with_source(answer)

    async def chat_stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        body = self._body(request, stream=True)
        async for line in self.http.stream_lines(f"{self.base_url}/v1/chat/completions", body):
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                return
            yield orjson.loads(data)

    async def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        body = self._body(request, stream=False)
        return _with_source(await self._post("/v1/completions", body))

    async def close(self) -> None:
        """The HTTP client is the gateway's; nothing of our own to release."""

    @property
    def token_prompts(self) -> TokenPrompts | None:
        return self if self.kind in ("vllm", "llamacpp") else None

    async def chat_ids(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        *,
        add_generation_prompt: bool,
    ) -> list[int]:
        body: dict[str, Any] = {
            "messages": messages,
            "add_generation_prompt": add_generation_prompt,
        }
        if tools:
            body["tools"] = tools
        if self.kind == "llamacpp":
            rendered = await self._post("/apply-template", body)
            return await self._llamacpp_tokenize(rendered["prompt"])
        answer = await self._post("/tokenize", {**body, "model": self.model})
        return [int(token) for token in answer["tokens"]]

    async def generate(self, prompt_ids: list[int], request: dict[str, Any]) -> Generated:
        if self.kind == "llamacpp":
            return await self._llamacpp_generate(prompt_ids, request)
        body = {key: value for key, value in request.items() if key not in _CHAT_ONLY}
        if request.get("max_completion_tokens") is not None:
            body.setdefault("max_tokens", request["max_completion_tokens"])
        body.update(
            model=self.model, prompt=prompt_ids, logprobs=0, return_token_ids=True, stream=False
        )
        answer = await self._post("/v1/completions", body)
        choice = answer["choices"][0]
        logprobs = (choice.get("logprobs") or {}).get("token_logprobs")
        return Generated(
            ids=list(choice["token_ids"]),
            logprobs=[float(value) for value in logprobs] if logprobs is not None else None,
            text=choice.get("text") or "",
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
            policy_version=answer.get("policy_version"),
        )

    def _body(self, request: dict[str, Any], *, stream: bool) -> dict[str, Any]:
        body = {**request, "stream": stream}
        if self.model:
            body["model"] = self.model
        body.setdefault("logprobs", True)
        if self.kind == "vllm":
            body["return_token_ids"] = True
        return body

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = await self.http.post(
            f"{self.base_url}{path}", body, headers=self.headers
        )
        return answer

    async def _llamacpp_tokenize(self, text: str) -> list[int]:
        tokens = await self._post(
            "/tokenize", {"content": text, "add_special": True, "parse_special": True}
        )
        return [token if isinstance(token, int) else token["id"] for token in tokens["tokens"]]

    async def _llamacpp_generate(self, prompt_ids: list[int], request: dict[str, Any]) -> Generated:
        body: dict[str, Any] = {
            ours: request[theirs]
            for theirs, ours in _LLAMACPP_SAMPLING.items()
            if request.get(theirs) is not None
        }
        body.update(prompt=prompt_ids, n_probs=1, return_tokens=True, cache_prompt=True)
        answer = await self._post("/completion", body)
        entries = answer.get("completion_probabilities") or []
        ids = [int(token) for token in answer.get("tokens") or []]
        logprobs = [float(entry["logprob"]) for entry in entries if "logprob" in entry]
        return Generated(
            ids=ids,
            logprobs=logprobs if len(logprobs) == len(ids) else None,
            text=answer.get("content") or "",
            finish_reason="length" if answer.get("stop_type") == "limit" else "stop",
        )

    async def _llamacpp_prompt_ids(self, request: dict[str, Any]) -> list[int] | None:
        """The prompt as llama.cpp's server renders and tokenizes it for this request."""
        try:
            rendered = await self._post(
                "/apply-template",
                {key: request[key] for key in ("messages", "tools") if key in request},
            )
            return await self._llamacpp_tokenize(rendered["prompt"])
        except (ServiceError, KeyError) as error:
            log.warning("%s: cannot get the prompt's token ids: %s", self.name, error)
            return None


def _with_source(answer: dict[str, Any]) -> dict[str, Any]:
    choices = answer.get("choices") or []
    if answer.get("prompt_token_ids") is None and choices:  # vLLM's completions: per choice
        answer["prompt_token_ids"] = choices[0].get("prompt_token_ids")
    exact = answer.get("prompt_token_ids") is not None and all(
        choice.get("token_ids") is not None for choice in choices
    )
    answer["token_ids_source"] = "engine" if exact else "none"
    return answer


def _with_llamacpp_ids(answer: dict[str, Any], prompt_ids: list[int] | None) -> dict[str, Any]:
    """Completion ids from the logprob entries' `id`s; the prompt's ids when they check out."""
    reported = (answer.get("usage") or {}).get("prompt_tokens")
    if prompt_ids is not None and reported is not None and len(prompt_ids) != reported:
        log.warning(
            "llama.cpp tokenized the prompt into %d tokens but reports %d; not passing ids on",
            len(prompt_ids),
            reported,
        )
        prompt_ids = None
    complete = prompt_ids is not None
    for choice in answer.get("choices") or []:
        content = (choice.get("logprobs") or {}).get("content") or []
        ids = [entry.get("id") for entry in content]
        if content and all(isinstance(token_id, int) for token_id in ids):
            choice["token_ids"] = ids
        else:
            complete = False
    answer["prompt_token_ids"] = prompt_ids
    answer["token_ids_source"] = "engine" if complete else "none"
    return answer
