"""What `gym serve` starts: one service spec per process or deployment, launcher-independent.

A plan names the services (the policy server, one resources server per environment, and the
agent server) and builds each one's settings from the configuration and the addresses the
launcher gives them. Both launchers turn the same plan into running services.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from starlette.types import ASGIApp

from gym_core.config import GymConfig
from gym_core.imports import import_object
from gym_core.settings import (
    AgentServerSettings,
    EnvRoute,
    ResourcesServerSettings,
)

__all__ = ["AGENT", "POLICY", "ServiceSpec", "build_app", "env_service_name", "plan_services"]

AGENT = "agent"
POLICY = "policy"


class ServiceSpec(BaseModel):
    """One service to start: the app factory's import string and the settings it gets."""

    name: str
    app: str
    settings: dict[str, Any]


def env_service_name(env: str) -> str:
    return f"env-{env}"


def service_names(env_names: list[str]) -> list[str]:
    """Every service a plan for these environments holds; the agent server comes last."""
    return [POLICY, *(env_service_name(env) for env in env_names), AGENT]


def plan_services(
    config: GymConfig, env_names: list[str], urls: Mapping[str, str]
) -> list[ServiceSpec]:
    """The services for `env_names`, given the base URL each service will answer at."""
    token = config.serve.token
    policy = config.policy.model_copy(
        update={"token": token, "lock_admin": config.serve.admin_locked or config.policy.lock_admin}
    )
    specs = [
        ServiceSpec(
            name=POLICY,
            app=config.services.policy_server,
            settings=policy.model_dump(),
        )
    ]
    routes = {}
    for env in env_names:
        entry = config.envs[env]
        resources = ResourcesServerSettings(
            **config.resources.model_dump(),
            name=env,
            server=entry.server,
            env_settings=entry.settings,
            token=token,
        )
        name = env_service_name(env)
        specs.append(
            ServiceSpec(
                name=name,
                app=config.services.resources_server,
                settings=resources.model_dump(),
            )
        )
        routes[env] = EnvRoute(url=urls[name], agent=entry.agent)
    agent = AgentServerSettings(
        **config.agent_server.model_dump(),
        envs=routes,
        policy_url=urls[POLICY],
        policy_model=config.policy.model or "default",
        token=token,
    )
    specs.append(
        ServiceSpec(
            name=AGENT,
            app=config.services.agent_server,
            settings=agent.model_dump(),
        )
    )
    return specs


def build_app(spec: ServiceSpec) -> ASGIApp:
    """The ASGI app of a service: its factory called with its settings."""
    factory = import_object(spec.app)
    return factory(spec.settings)  # type: ignore[no-any-return]
