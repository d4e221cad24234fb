"""The HTTP service around an environment (see `gym_core.resources_api` for the routes).

The environment's code answers the questions only it can (its task's fields, its state, its
tools, its reward); this module owns everything else: sessions and their expiry, argument
validation, turning a tool's exception into a message for the model, turning a verifier's
failure into a typed failure rather than a reward of 0, and the CPU worker pool.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from gym_core.errors import ConfigError
from gym_core.imports import import_object
from gym_core.protocol import Failure, Message, Task
from gym_core.resources_api import (
    EnvDescription,
    RespondRequest,
    RespondResponse,
    SeedRequest,
    SeedResponse,
    ToolOutput,
    ToolsResponse,
    VerifyRequest,
    VerifyResponse,
    VerifyTaskRequest,
)
from gym_core.service import create_service_app, json_response
from gym_core.settings import ResourcesServerSettings, SessionShards, parse_settings
from resources_server.base import (
    ResourcesServer,
    TaskFields,
    ToolError,
    Trajectory,
    Verdict,
    VerifyTimeout,
)
from resources_server.cpu_pool import CallFailed, CpuPool, CpuTimeExceeded, WorkerLost
from resources_server.sandbox import SandboxError
from resources_server.sessions import LocalSessions, Session, SessionStore, UnknownSession

__all__ = ["create_app"]

log = logging.getLogger("rl_gym.resources")

POOL_WARMUP_DELAY_S = 1.0


def create_app(raw_settings: dict[str, Any]) -> FastAPI:
    """The resources server app for the environment named in the settings."""
    settings = parse_settings(ResourcesServerSettings, raw_settings, "resources server settings")
    server_class = import_object(settings.server)
    if not (isinstance(server_class, type) and issubclass(server_class, ResourcesServer)):
        raise ConfigError(f"{settings.server!r} is not a ResourcesServer subclass")
    env_settings = parse_settings(
        server_class.settings_model, settings.env_settings, f"envs.{settings.name}.settings"
    )
    pool = CpuPool(
        settings.cpu_workers,
        cpu_limit_s=settings.verify_cpu_limit_s,
        preload=server_class.cpu_preload,
    )
    return build_app(server_class(env_settings, pool), pool, settings)


def build_app(
    server: ResourcesServer[Any, Any], pool: CpuPool, settings: ResourcesServerSettings
) -> FastAPI:
    sessions = _session_store(settings.session_ttl_s, settings.session_shards)
    specs = server.tool_specs()
    interactive = server.interactive()
    description = EnvDescription(
        tools=server.tool_schemas(),
        interactive=interactive,
        needs_session=server.needs_session(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if server.cpu_preload:
            # Warm the workers once the service is up, so that importing what they preload
            # does not compete with the start of this and the other services.
            asyncio.get_running_loop().call_later(POOL_WARMUP_DELAY_S, pool.start)
        await server.startup()
        sweeper = asyncio.create_task(sessions.expire_forever())
        try:
            yield
        finally:
            sweeper.cancel()
            await server.shutdown()
            await pool.close()

    app = create_service_app(f"env-{settings.name}", token=settings.token, lifespan=lifespan)
    metrics = app.state.metrics
    metrics.gauge("sessions_open", "Sessions alive now.").set_function(lambda: len(sessions))

    async def session_or_404(session_id: str, close: bool = False) -> Session:
        """The session (closed at once when `close`: nothing will change it any more)."""
        try:
            return await (sessions.take(session_id) if close else sessions.get(session_id))
        except UnknownSession:
            raise HTTPException(
                404,
                f"no session {session_id!r}: it was closed, expired after "
                f"{settings.session_ttl_s:g}s idle, or never existed",
            ) from None

    async def seeded(request_task: Task) -> tuple[TaskFields, Any]:
        """The environment's task and the state `seed` gives it; 422 naming what is wrong."""
        try:
            task = server.task_model.model_validate(request_task.model_dump())
        except ValidationError as error:
            raise RequestValidationError(_located(error, "task")) from None
        try:
            return task, await server.seed(task)
        except ToolError as error:
            raise HTTPException(422, f"task {task.id!r} cannot be seeded: {error}") from None

    @app.get("/env")
    async def describe() -> EnvDescription:
        return description

    @app.get("/tools")
    async def list_tools() -> ToolsResponse:
        return ToolsResponse(tools=server.tool_schemas())

    @app.post("/verify", response_model=VerifyResponse)
    async def verify_task(request: VerifyTaskRequest) -> Response:
        task, state = await seeded(request.task)
        trajectory = Trajectory(messages=request.messages, turns=request.turns)
        return json_response(await judged(task, trajectory, state))

    @app.post("/sessions", response_model=SeedResponse)
    async def open_session(request: SeedRequest) -> Response:
        task, state = await seeded(request.task)
        session = await sessions.open(task, state)
        return json_response(SeedResponse(session_id=session.id, interactive=interactive))

    @app.post("/sessions/{session_id}/tools/{tool_name}")
    async def call_tool(session_id: str, tool_name: str, request: Request) -> ToolOutput:
        session = await session_or_404(session_id)
        spec = specs.get(tool_name)
        if spec is None:
            raise HTTPException(
                404, f"no tool {tool_name!r}; this environment has: {', '.join(specs) or 'none'}"
            )
        try:
            raw = orjson.loads(await request.body() or b"{}")
            arguments = spec.arguments_model.model_validate(raw)
        except orjson.JSONDecodeError:
            raise HTTPException(422, "the tool's arguments must be a JSON object") from None
        except ValidationError as error:
            raise RequestValidationError(_located(error, "arguments")) from None
        method = getattr(server, spec.method_name)
        try:
            result = await method(session.state, **dict(arguments))
        except ToolError as error:
            output = ToolOutput(output=str(error), is_error=True)
        except SandboxError as error:
            log.error("tool %s: the sandbox failed: %s", tool_name, error)
            metrics.count_failure("sandbox_error")
            raise HTTPException(500, f"tool {tool_name}: the sandbox failed: {error}") from None
        except Exception as error:
            log.exception("tool %s raised", tool_name)
            metrics.count_failure("tool_raised")
            output = ToolOutput(output=f"{type(error).__name__}: {error}", is_error=True)
        else:
            text = result if isinstance(result, str) else orjson.dumps(result).decode()
            output = ToolOutput(output=text)
        await sessions.save(session)  # a tool may change the state, even one that failed
        return output

    @app.post("/sessions/{session_id}/respond")
    async def respond(session_id: str, request: RespondRequest) -> RespondResponse:
        session = await session_or_404(session_id)
        trajectory = Trajectory(messages=request.messages)
        reply = await server.respond(session.task, session.state, trajectory)
        await sessions.save(session)
        if isinstance(reply, str):
            reply = [Message(role="user", content=reply)]
        return RespondResponse(messages=reply or [])

    async def judged(task: TaskFields, trajectory: Trajectory, state: Any) -> VerifyResponse:
        try:
            return _verified(await server.verify(task, trajectory, state))
        except CpuTimeExceeded as error:
            return _failed(metrics, "verify_timeout", f"verification {error}")
        except VerifyTimeout as error:
            return _failed(metrics, "verify_timeout", str(error))
        except SandboxError as error:
            return _failed(metrics, "sandbox_error", f"the sandbox failed: {error}")
        except (CallFailed, WorkerLost) as error:
            return _failed(metrics, "verify_error", f"verification failed: {error}")
        except Exception as error:
            log.exception("verify raised")
            return _failed(
                metrics, "verify_error", f"verify raised {type(error).__name__}: {error}"
            )

    @app.post("/sessions/{session_id}/verify", response_model=VerifyResponse)
    async def verify(session_id: str, request: VerifyRequest) -> Response:
        session = await session_or_404(session_id, close=request.close)
        trajectory = Trajectory(messages=request.messages, turns=request.turns)
        return json_response(await judged(session.task, trajectory, session.state))

    @app.delete("/sessions/{session_id}")
    async def close_session(session_id: str) -> dict[str, bool]:
        closed = await sessions.close(session_id)
        return {"closed": closed}

    return app


def _session_store(ttl_s: float, shards: SessionShards | None) -> SessionStore:
    """The local store, or the shared one when the launcher named the shards to use."""
    if shards is None:
        return LocalSessions(ttl_s)
    from resources_server.shared_sessions import SharedSessions  # imports ray

    return SharedSessions(ttl_s, shards)


def _located(error: ValidationError, prefix: str) -> list[dict[str, Any]]:
    """The validation problems with their location under `prefix` (`task.answer`)."""
    return [
        {"loc": [prefix, *problem["loc"]], "msg": problem["msg"], "type": problem["type"]}
        for problem in error.errors()
    ]


def _verified(verdict: Verdict | float) -> VerifyResponse:
    """The verdict as the wire carries it; anything that is not a reward raises, and so ends
    the rollout as `verify_error` instead of passing for one."""
    if isinstance(verdict, bool | int | float):
        verdict = Verdict(reward=float(verdict))
    elif not isinstance(verdict, Verdict):
        raise TypeError(f"verify must return a Verdict or a number, got {type(verdict).__name__}")
    rewards = {"reward": verdict.reward, **(verdict.components or {})}
    for name, value in rewards.items():
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}")
    return VerifyResponse(
        reward=verdict.reward, reward_components=verdict.components, metrics=verdict.metrics
    )


def _failed(metrics: Any, kind: Any, message: str) -> VerifyResponse:
    metrics.count_failure(kind)
    return VerifyResponse(failure=Failure(kind=kind, message=message))
