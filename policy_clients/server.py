"""The policy server: an OpenAI-compatible gateway in front of the inference engines.

    POST /v1/chat/completions   OpenAI chat request -> chat.completion with token ids
    GET  /v1/models
    POST /admin/policy_version  {"version": N}: the trainer's weights are now version N

Every answer carries `policy_version`, so each turn of a trajectory records which weights
produced it, and the token ids and logprobs the engine gave.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from gym_core.chat_api import ChatCompletion
from gym_core.errors import ConfigError, ServiceError, ServiceRejected, ServiceTimeout
from gym_core.http_client import HttpClient
from gym_core.protocol import Message
from gym_core.service import create_service_app
from gym_core.settings import PolicyServerSettings, parse_settings
from policy_clients.openai_engine import OpenAIEngine, detect_engine_kind

__all__ = ["create_app"]


class ChatRequest(BaseModel):
    """The fields the gateway checks; everything else passes through to the engine."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: Annotated[list[Message], Field(min_length=1)]


class PolicyVersion(BaseModel):
    version: Annotated[int, Field(ge=0)]


def create_app(raw_settings: dict[str, Any]) -> FastAPI:
    settings = parse_settings(PolicyServerSettings, raw_settings, "policy server settings")
    if not settings.engine_urls:
        raise ConfigError("policy.engine_urls: give at least one engine URL (--policy-url)")
    http = HttpClient(timeout_s=settings.request_timeout_s, max_retries=2)
    engines: list[OpenAIEngine] = []
    state = {"version": 0}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for url in settings.engine_urls:
            kind, served_model = await detect_engine_kind(http, url.rstrip("/"))
            if settings.engine not in ("auto", "embedded"):
                kind = settings.engine
            engines.append(
                OpenAIEngine(
                    http,
                    url,
                    kind=kind,
                    model=settings.model or served_model,
                    timeout_s=settings.request_timeout_s,
                    api_key=settings.api_key,
                )
            )
        try:
            yield
        finally:
            await http.close()

    app = create_service_app(settings.name, token=settings.token, lifespan=lifespan)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: ChatRequest) -> ChatCompletion:
        body = request.model_dump(exclude_none=True)
        body["messages"] = [message.wire() for message in request.messages]
        try:
            completion = await engines[0].chat(body)
        except ServiceRejected as error:
            raise HTTPException(
                error.status, f"the engine refused the request: {error.detail}"
            ) from None
        except ServiceTimeout as error:
            raise HTTPException(504, f"the engine did not answer in time: {error}") from None
        except ServiceError as error:
            raise HTTPException(502, f"the engine failed: {error}") from None
        completion.policy_version = state["version"]
        return completion

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        names = dict.fromkeys(engine.model or "default" for engine in engines)
        return {
            "object": "list",
            "data": [{"id": name, "object": "model", "owned_by": "rl-gym"} for name in names],
        }

    @app.post("/admin/policy_version")
    async def set_policy_version(request: PolicyVersion) -> dict[str, int]:
        state["version"] = request.version
        return {"policy_version": request.version}

    return app
