"""A client for one OpenAI-compatible inference engine: vLLM, SGLang, llama.cpp's server, OpenAI.

It asks each engine for token ids and logprobs in that engine's own terms and reads them back
into one shape (`gym_core.chat_api.ChatCompletion`). Where an engine gives text only, the turn
says so (`token_ids_source: "none"`); ids are never invented.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ValidationError

from gym_core.chat_api import ChatCompletion
from gym_core.errors import ServiceError, ServiceFailed
from gym_core.http_client import HttpClient

__all__ = ["EngineKind", "OpenAIEngine", "detect_engine_kind"]

EngineKind = Literal["vllm", "sglang", "llamacpp", "openai"]

_OWNERS: dict[str, EngineKind] = {"vllm": "vllm", "sglang": "sglang", "llamacpp": "llamacpp"}


async def detect_engine_kind(http: HttpClient, base_url: str) -> tuple[EngineKind, str | None]:
    """The engine's kind and first model, from `GET /v1/models` (`owned_by`)."""
    try:
        answer = await http.get(f"{base_url}/v1/models")
    except ServiceError:
        return "openai", None
    models = answer.get("data") or [] if isinstance(answer, dict) else []
    if not models:
        return "openai", None
    first = models[0]
    return _OWNERS.get(str(first.get("owned_by", "")).lower(), "openai"), first.get("id")


class OpenAIEngine:
    """One engine replica behind the policy server."""

    def __init__(
        self,
        http: HttpClient,
        base_url: str,
        *,
        kind: EngineKind,
        model: str | None,
        timeout_s: float,
        api_key: str | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.kind = kind
        self.model = model
        self.timeout_s = timeout_s
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else None

    async def chat(self, request: dict[str, Any]) -> ChatCompletion:
        """A non-streaming chat completion with token ids and logprobs where the engine has them."""
        body = {**request, **self._token_extras(), "stream": False}
        if self.model:
            body["model"] = self.model
        answer = await self.http.post(
            f"{self.base_url}/v1/chat/completions",
            body,
            timeout_s=self.timeout_s,
            headers=self._headers,
        )
        try:
            completion = ChatCompletion.model_validate(answer)
        except ValidationError as error:
            raise ServiceFailed(self.base_url, 200, f"not a chat completion: {error}") from None
        has_ids = completion.prompt_token_ids is not None and all(
            choice.token_ids is not None for choice in completion.choices
        )
        completion.token_ids_source = "engine" if has_ids else "none"
        return completion

    def _token_extras(self) -> dict[str, Any]:
        if self.kind == "vllm":
            return {"logprobs": True, "return_token_ids": True}
        return {"logprobs": True}
