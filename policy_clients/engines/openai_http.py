"""Engines that speak OpenAI's chat API over HTTP: vLLM, llama.cpp's server, OpenAI.

Each is asked for token ids in its own terms:
- vLLM: `return_token_ids` gives `prompt_token_ids` and each choice's `token_ids`;
- llama.cpp's server: `logprobs` entries carry each completion token's `id`, and the prompt's
  ids come from its own `/apply-template` and `/tokenize` (checked against the prompt length
  the completion reports, so a mismatch is never passed on as exact);
- OpenAI (and any engine we cannot identify): text and logprobs only, `token_ids_source: none`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

import orjson

from gym_core.errors import ServiceError
from gym_core.http_client import HttpClient

__all__ = ["HttpEngineKind", "OpenAIHttpEngine", "detect_kind"]

log = logging.getLogger("rl_gym.policy")

HttpEngineKind = Literal["vllm", "sglang", "llamacpp", "openai"]
_OWNERS: dict[str, HttpEngineKind] = {
    "vllm": "vllm",
    "rl-gym-live": "vllm",
    "sglang": "sglang",
    "llamacpp": "llamacpp",
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
        self.name = self.base_url
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
                    self.base_url,
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

    async def _llamacpp_prompt_ids(self, request: dict[str, Any]) -> list[int] | None:
        """The prompt as llama.cpp's server renders and tokenizes it for this request."""
        try:
            rendered = await self._post(
                "/apply-template",
                {key: request[key] for key in ("messages", "tools") if key in request},
            )
            tokens = await self._post(
                "/tokenize",
                {"content": rendered["prompt"], "add_special": True, "parse_special": True},
            )
        except (ServiceError, KeyError) as error:
            log.warning("%s: cannot get the prompt's token ids: %s", self.base_url, error)
            return None
        return [token if isinstance(token, int) else token["id"] for token in tokens["tokens"]]


def _with_source(answer: dict[str, Any]) -> dict[str, Any]:
    choices = answer.get("choices") or []
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
