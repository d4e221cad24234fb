"""The agent server: the one rollout endpoint a trainer talks to.

POST /v1/rollouts                    RolloutsRequest -> RolloutsResponse, or NDJSON when `stream`;
                                     413 over `max_batch_samples`, 503 + Retry-After when the
                                     queue is full
POST /v1/rollouts/{batch_id}/cancel  end a running batch's samples as `cancelled`
POST /v1/rollout                     RolloutRequest  -> RolloutResult
GET  /v1/envs                        -> [EnvInfo]
GET  /v1/policy                      -> PolicyState (version, paused, in flight, engines)
POST /v1/policy/version              {"version": N}: every later turn records N
POST /v1/policy/pause                new generations wait; answers once running ones finish
POST /v1/policy/resume               {"version"?: N}: generations go on
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from starlette.exceptions import HTTPException

from agent_server.runner import BatchRunning, QueueFull, RolloutRunner
from gym_core.config import unknown_name_message
from gym_core.errors import ServiceError, ServiceRejected
from gym_core.http_client import PROCESSED_HEADER, HttpClient
from gym_core.metrics import POLICY_SERVER_INFO
from gym_core.open_files import open_files_needed, raise_open_file_limit
from gym_core.protocol import (
    CancelledBatch,
    EnvInfo,
    PausePolicy,
    PolicyState,
    ResumePolicy,
    RolloutRequest,
    RolloutResult,
    RolloutsRequest,
    RolloutsResponse,
    SetPolicyVersion,
    Task,
    summarize_groups,
)
from gym_core.service import create_service_app, json_response
from gym_core.settings import AgentServerSettings, parse_settings

__all__ = ["create_app"]

NDJSON = "application/x-ndjson"
POLICY_DOWN_KINDS = frozenset({"policy_error", "policy_timeout"})
POLICY_DOWN_RETRY_AFTER_S = 5
QUEUE_FULL_RETRY_AFTER_S = 1
"""A full queue drains as episodes finish; a refused request costs the server next to nothing,
so clients may ask again soon."""
CONTROL_CONNECTIONS = 32
"""Connections beyond one per running episode: policy controls, closing sessions."""


def create_app(raw_settings: dict[str, Any]) -> FastAPI:
    settings = parse_settings(AgentServerSettings, raw_settings, "agent server settings")
    # Each running episode has one call out at a time; an idle pooled connection to the other
    # service may stay open beside it.
    pool = settings.max_concurrency + CONTROL_CONNECTIONS
    http = HttpClient(
        timeout_s=settings.policy_timeout_s, token=settings.token, max_connections=pool
    )
    inbound = settings.max_concurrency + settings.max_queue  # single rollouts hold one each
    raise_open_file_limit(
        open_files_needed(inbound + 2 * pool),
        f"agent_server.max_concurrency={settings.max_concurrency} and "
        f"agent_server.max_queue={settings.max_queue}",
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await http.close()

    app = create_service_app(settings.name, token=settings.token, lifespan=lifespan)
    app.state.metrics.gauge(
        POLICY_SERVER_INFO, "The policy server this agent server calls (its url).", ("url",)
    ).labels(settings.policy_url).set(1)
    runner = RolloutRunner(settings, http, app.state.metrics)
    control = runner.control

    def check_envs(located: list[tuple[list[str | int], Task]]) -> None:
        """422 naming each task whose `env` this server does not serve."""
        problems = [
            {
                "loc": ["body", *location, "env"],
                "msg": unknown_name_message("environment", task.env, list(settings.envs)),
                "type": "unknown_env",
            }
            for location, task in located
            if task.env not in settings.envs
        ]
        if problems:
            raise RequestValidationError(problems)

    @app.post("/v1/rollouts", response_model=RolloutsResponse)
    async def rollouts(request: RolloutsRequest) -> Response:
        check_envs([(["tasks", index], task) for index, task in enumerate(request.tasks)])
        samples = len(request.tasks) * request.samples_per_task
        if samples > settings.max_batch_samples:
            raise HTTPException(
                413,
                f"tasks x samples_per_task = {len(request.tasks)} x {request.samples_per_task} "
                f"= {samples} is over max_batch_samples={settings.max_batch_samples} "
                "(agent_server.max_batch_samples): split the batch",
            )
        try:
            batch = runner.submit(request)
        except BatchRunning:
            raise HTTPException(
                409, f"batch_id {request.batch_id!r} names a batch that is still running"
            ) from None
        except QueueFull as error:
            raise _queue_full(error) from None
        if request.stream:
            return StreamingResponse(_ndjson(runner.stream(batch)), media_type=NDJSON)
        results = await runner.results(batch)
        answer = RolloutsResponse(results=results, groups=summarize_groups(results))
        if _policy_down(results):
            return _policy_down_response(answer)
        return json_response(answer)

    @app.post("/v1/rollouts/{batch_id}/cancel")
    async def cancel(batch_id: str) -> CancelledBatch:
        cancelled = runner.cancel(batch_id)
        if cancelled is None:
            raise HTTPException(404, f"no batch {batch_id!r} is running")
        return CancelledBatch(batch_id=batch_id, cancelled=cancelled)

    @app.post("/v1/rollout", response_model=RolloutResult)
    async def rollout(request: RolloutRequest) -> Response:
        check_envs([(["task"], request.task)])
        try:
            result = await runner.rollout_admitted(
                request.task,
                sample_index=request.sample_index,
                group_id=request.group_id,
                sampling=request.sampling,
            )
        except QueueFull as error:
            raise _queue_full(error) from None
        return json_response(result)

    @app.get("/v1/envs")
    async def envs() -> list[EnvInfo]:
        return [
            EnvInfo(
                name=name,
                agent=route.agent.name,
                max_turns=route.agent.max_turns,
                resources_url=route.url,
            )
            for name, route in settings.envs.items()
        ]

    @app.get("/v1/policy")
    async def policy() -> PolicyState:
        return await _policy_call(control.state())

    @app.post("/v1/policy/version")
    async def set_version(request: SetPolicyVersion) -> PolicyState:
        return await _policy_call(control.set_version(request.version))

    @app.post("/v1/policy/pause")
    async def pause(request: PausePolicy | None = None) -> PolicyState:
        return await _policy_call(control.pause(request or PausePolicy()))

    @app.post("/v1/policy/resume")
    async def resume(request: ResumePolicy | None = None) -> PolicyState:
        return await _policy_call(control.resume((request or ResumePolicy()).version))

    return app


async def _policy_call(call: Any) -> PolicyState:
    """The policy server's answer; its refusal (401, 403, 422) as is; else a 502 saying it
    could not be asked."""
    try:
        return await call  # type: ignore[no-any-return]
    except ServiceRejected as error:
        raise HTTPException(
            error.status, f"the policy server refused: {error.reason or error.detail}"
        ) from None
    except ServiceError as error:
        raise HTTPException(502, f"the policy server did not take the call: {error}") from None


def _queue_full(error: QueueFull) -> HTTPException:
    """503 with `Retry-After`: nothing of the request ran, so asking again is safe."""
    return HTTPException(
        503, f"busy: {error}", headers={"Retry-After": str(QUEUE_FULL_RETRY_AFTER_S)}
    )


def _policy_down(results: list[RolloutResult]) -> bool:
    """Every sample failed at the policy: the trainer should hear that the engine is down
    rather than train on a batch of failures."""
    return all(
        result.failure is not None and result.failure.kind in POLICY_DOWN_KINDS
        for result in results
    )


def _policy_down_response(answer: RolloutsResponse) -> Response:
    """503 naming the policy's failure; the results stay in the body, so none is lost."""
    failure = answer.results[0].failure
    detail = f"every sample failed at the policy; the first: {failure.message if failure else ''}"
    body = orjson.dumps({"error": detail, "detail": detail, **answer.model_dump(mode="json")})
    headers = {PROCESSED_HEADER: "true", "Retry-After": str(POLICY_DOWN_RETRY_AFTER_S)}
    return Response(body, status_code=503, media_type="application/json", headers=headers)


async def _ndjson(results: AsyncIterator[RolloutResult]) -> AsyncIterator[bytes]:
    async for result in results:
        yield result.model_dump_json().encode() + b"\n"
