"""The agent server: the one rollout endpoint a trainer talks to.

POST /v1/rollouts   RolloutsRequest -> RolloutsResponse, or NDJSON when `stream` is true
POST /v1/rollout    RolloutRequest  -> RolloutResult
GET  /v1/envs       -> [EnvInfo]
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse

from agent_server.runner import RolloutRunner
from gym_core.config import unknown_name_message
from gym_core.http_client import HttpClient
from gym_core.protocol import (
    EnvInfo,
    RolloutRequest,
    RolloutResult,
    RolloutsRequest,
    RolloutsResponse,
    Task,
)
from gym_core.service import create_service_app, json_response
from gym_core.settings import AgentServerSettings, parse_settings

__all__ = ["create_app"]

NDJSON = "application/x-ndjson"


def create_app(raw_settings: dict[str, Any]) -> FastAPI:
    settings = parse_settings(AgentServerSettings, raw_settings, "agent server settings")
    http = HttpClient(timeout_s=settings.policy_timeout_s, token=settings.token)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await http.close()

    app = create_service_app(settings.name, token=settings.token, lifespan=lifespan)
    runner = RolloutRunner(settings, http, app.state.metrics)

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
        if request.stream:
            results = runner.stream(request.tasks, request.samples_per_task, request.sampling)
            return StreamingResponse(_ndjson(results), media_type=NDJSON)
        results_list = await runner.rollouts(
            request.tasks, request.samples_per_task, request.sampling
        )
        return json_response(RolloutsResponse(results=results_list))

    @app.post("/v1/rollout", response_model=RolloutResult)
    async def rollout(request: RolloutRequest) -> Response:
        check_envs([(["task"], request.task)])
        result = await runner.rollout(
            request.task,
            sample_index=request.sample_index,
            group_id=request.group_id,
            sampling=request.sampling,
        )
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

    return app


async def _ndjson(results: AsyncIterator[RolloutResult]) -> AsyncIterator[bytes]:
    async for result in results:
        yield result.model_dump_json().encode() + b"\n"
