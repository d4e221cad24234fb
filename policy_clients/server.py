"""The policy server: an OpenAI-compatible gateway in front of the inference engines.

    POST /v1/chat/completions   chat request -> chat.completion (or SSE chunks) with token ids;
                                with `rl_gym_prefix`, generated from token ids where the
                                engine takes them (`policy_clients.token_prompts`)
    POST /v1/completions        text or token-id prompt -> text_completion with token ids
    GET  /v1/models
    POST /admin/policy_version  {"version": N}: the weights are now version N (0 to 2^53)
    POST /admin/pause           {"timeout_s"?, "deadline_s"?}: hold new generations; answer
                                once those running have finished; lift by itself after
                                `deadline_s` when given
    POST /admin/resume          {"policy_version"?: N}: let generations through again
    GET  /admin/status          `PolicyState`: version, paused, in flight, engines

Every answer carries `policy_version`: the version when its generation started, unless the
engine reports its own (a trainer's live policy knows which weights it sampled with). A
trainer swapping weights pauses, swaps, sets the version and resumes, so no turn mixes
versions. Trainers reach these controls through the agent server (`/v1/policy/...`).

With a token set, every route but `/healthz` needs it; with `lock_admin`, the three routes that
change the policy answer 403 when no token is set, so that on a shared machine no other local
process can pause generation or change the version.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.exceptions import HTTPException

from gym_core.chat_api import PREFIX_FIELD, SESSION_HEADER, TokenPrefix
from gym_core.errors import (
    ServiceFailed,
    ServiceRejected,
    ServiceTimeout,
    ServiceUnavailable,
)
from gym_core.http_client import PROCESSED_HEADER, HttpClient
from gym_core.open_files import open_files_needed, raise_open_file_limit
from gym_core.protocol import (
    EngineHealth,
    PausePolicy,
    PolicyState,
    StrictPolicyVersion,
)
from gym_core.redaction import redact
from gym_core.service import create_service_app
from gym_core.settings import PolicyServerSettings, parse_settings
from policy_clients.engines import make_engines
from policy_clients.engines.base import Engine, EngineError
from policy_clients.gate import Gate
from policy_clients.router import NoReplica, Replica, Router
from policy_clients.token_prompts import TokenChats, chat_by_messages

__all__ = ["create_app"]

log = logging.getLogger("rl_gym.policy")

ENGINE_RETRIES = 1
"""The router fails over to another replica, so the engine client itself retries little."""
CALLS_PER_GENERATION = 2
"""Engine calls one generation may have open at once (llama.cpp's: the chat and its prompt's
ids), for sizing the connection pool."""


class _Role(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str


class ChatShape(BaseModel):
    """What the gateway checks of a chat request; the rest passes through untouched."""

    model_config = ConfigDict(extra="allow")

    messages: Annotated[list[_Role], Field(min_length=1)]
    stream: bool = False
    rl_gym_prefix: TokenPrefix | None = None

    @model_validator(mode="after")
    def _prefix_ends_at_an_assistant_message(self) -> ChatShape:
        prefix = self.rl_gym_prefix
        if prefix is None:
            return self
        if bool(prefix.token_ids) != bool(prefix.messages):
            raise ValueError(
                f"{PREFIX_FIELD}: token_ids and messages are both empty (the first turn) or "
                "both set"
            )
        if prefix.messages > len(self.messages):
            raise ValueError(
                f"{PREFIX_FIELD}.messages: {prefix.messages} is more than the "
                f"{len(self.messages)} messages sent"
            )
        if prefix.messages and self.messages[prefix.messages - 1].role != "assistant":
            raise ValueError(
                f"{PREFIX_FIELD}.messages: the ids must end with an assistant message, and "
                f"message {prefix.messages - 1} is {self.messages[prefix.messages - 1].role!r}"
            )
        return self


class CompletionShape(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt: str | list[int]


class SetVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: StrictPolicyVersion


class Resume(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy_version: StrictPolicyVersion | None = None


def create_app(raw_settings: dict[str, Any]) -> FastAPI:
    settings = parse_settings(PolicyServerSettings, raw_settings, "policy server settings")
    replicas = max(1, len(settings.engine_urls))
    pool = replicas * settings.max_concurrency_per_replica * CALLS_PER_GENERATION
    raise_open_file_limit(
        open_files_needed(pool),
        f"policy.max_concurrency_per_replica={settings.max_concurrency_per_replica} on "
        f"{replicas} replica(s)",
    )
    http = HttpClient(
        timeout_s=settings.request_timeout_s, max_retries=ENGINE_RETRIES, max_connections=pool
    )
    engines = make_engines(settings, http)
    router = Router(
        [Replica(engine, settings.max_concurrency_per_replica) for engine in engines],
        sticky_ttl_s=settings.sticky_ttl_s,
    )
    gate = Gate(settings.state_file)
    token_chats = TokenChats()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gate.restore()
        for replica in router.replicas:
            await _start(replica)
        try:
            yield
        finally:
            for engine in engines:
                await engine.close()
            await http.close()

    app = create_service_app(settings.name, token=settings.token, lifespan=lifespan)
    admin = [Depends(_admin_guard(settings))]

    async def generate(
        request: Request, operation: Callable[[Engine], Awaitable[dict[str, Any]]]
    ) -> Response:
        async with gate.generation() as version:
            result = await _guarded(router.call(request.headers.get(SESSION_HEADER), operation))
        result.setdefault("policy_version", version)
        return Response(orjson.dumps(result), media_type="application/json")

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        body = _parse(await request.body(), ChatShape)
        prefix = body.pop(PREFIX_FIELD, None)
        if prefix is not None and not body.get("stream"):
            continued = TokenPrefix.model_validate(prefix)
            return await generate(
                request, lambda engine: token_chats.complete(engine, body, continued)
            )
        if not body.get("stream"):
            return await generate(request, lambda engine: chat_by_messages(engine, body))
        chunks = router.stream(
            request.headers.get(SESSION_HEADER), lambda engine: engine.chat_stream(body)
        )
        return StreamingResponse(_sse(chunks, gate), media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body = _parse(await request.body(), CompletionShape)
        return await generate(request, lambda engine: engine.complete(body))

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        names = dict.fromkeys(str(getattr(e, "model", None) or "default") for e in engines)
        return {
            "object": "list",
            "data": [{"id": name, "object": "model", "owned_by": "rl-gym"} for name in names],
        }

    @app.post("/admin/policy_version", dependencies=admin)
    async def set_policy_version(request: SetVersion) -> dict[str, int]:
        gate.version = request.version
        return {"policy_version": gate.version}

    @app.post("/admin/pause", dependencies=admin)
    async def pause(request: PausePolicy) -> dict[str, Any]:
        await gate.pause(request.timeout_s, request.deadline_s)
        return {"paused": True, "running": gate.running, "policy_version": gate.version}

    @app.post("/admin/resume", dependencies=admin)
    async def resume(request: Resume) -> dict[str, Any]:
        if request.policy_version is not None:
            gate.version = request.policy_version
        gate.resume()
        return {"paused": False, "policy_version": gate.version}

    @app.get("/admin/status")
    async def status() -> PolicyState:
        return PolicyState(
            version=gate.version,
            paused=gate.paused,
            in_flight=gate.running,
            paused_total_s=gate.paused_total_s,
            pause_lifts_in_s=gate.lifts_in_s,
            engines=[EngineHealth(**replica.status()) for replica in router.replicas],
        )

    return app


def _admin_guard(settings: PolicyServerSettings) -> Callable[[], None]:
    """403 on the routes that change the policy when they are locked and no token guards
    them (with a token, the service's token check has already let the caller in)."""

    def guard() -> None:
        if settings.lock_admin and not settings.token:
            raise HTTPException(
                403,
                "the policy's admin routes are locked (policy.lock_admin, `gym serve "
                "--lock-admin`) and no token is set: serve with --token-file FILE or "
                "$RL_GYM_TOKEN and send it as `Authorization: Bearer TOKEN`",
            )

    return guard


async def _start(replica: Replica) -> None:
    """Start a replica now so the first request does not wait; an unreachable one is tried
    again on first use."""
    try:
        await replica.engine.start()
        replica.started = True
    except ServiceUnavailable as error:
        replica.failed(error)


def _parse(raw: bytes, shape: type[BaseModel]) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise HTTPException(400, f"the body is not JSON: {error}") from None
    try:
        shape.model_validate(body)
    except ValidationError as error:
        raise RequestValidationError(
            [{**problem, "loc": ["body", *problem["loc"]]} for problem in error.errors()]
        ) from None
    return body  # type: ignore[no-any-return]


async def _guarded(result: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """Engine failures as HTTP errors a client can act on.

    The gateway is the one layer that retries a generation (the engine client once, then the
    router on every other replica); its 5xx answers say `X-Processed` so that no caller sends
    the generation again and multiplies the wait.
    """
    try:
        return await result
    except EngineError as error:
        raise HTTPException(400, str(error)) from None
    except ServiceRejected as error:
        raise HTTPException(
            error.status, f"the engine refused the request: {error.detail}"
        ) from None
    except ServiceTimeout as error:
        raise _final(504, f"the engine did not answer in time: {error}") from None
    except (NoReplica, ServiceUnavailable) as error:
        raise _final(503, f"no engine replica is available: {error}") from None
    except ServiceFailed as error:
        raise _final(502, f"the engine failed: {error}") from None


def _final(status: int, message: str) -> HTTPException:
    return HTTPException(status, message, headers={PROCESSED_HEADER: "true"})


async def _sse(chunks: AsyncIterator[dict[str, Any]], gate: Gate) -> AsyncIterator[bytes]:
    """Server-sent events; an engine failure mid-stream becomes an error event, not a cut."""
    async with gate.generation() as version:
        try:
            async for chunk in chunks:
                chunk.setdefault("policy_version", version)
                yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        except Exception as error:
            broke = redact(f"the stream broke: {error}")
            message = {"error": {"message": broke, "type": "engine_error"}}
            yield b"data: " + orjson.dumps(message) + b"\n\n"
    yield b"data: [DONE]\n\n"
