"""A running stack's state, read from its `/metrics`: what `gym status` shows.

The agent server's address is all it needs: its `/metrics` name its policy server and
`GET /v1/envs` each environment's resources server, whose `/metrics` are read too. The text
is parsed with `prometheus_client`'s parser.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError

from gym_core.errors import ServiceError, ServiceFailed, ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.metrics import POLICY_SERVER_INFO, Exposition
from gym_core.protocol import EnvInfo

__all__ = ["STAGES", "EnvStatus", "ServiceStatus", "StackStatus", "read_stack"]

STAGES = ("policy", "tool", "verify", "env_turn")
SCRAPE_TIMEOUT_S = 5.0
AGENT_SERIES = "rlgym_rollouts_admitted"
"""A series only the agent server exposes: its absence means the endpoint is something else."""


@dataclass
class EnvStatus:
    """One environment, as the agent server counts it."""

    env: str
    running: int
    queued: int
    statuses: dict[str, int]
    """Finished rollouts by status: completed, truncated, failed."""
    failures: dict[str, int]
    """Failed rollouts by kind."""
    reward_mean: float | None
    stage_mean_s: dict[str, float | None]
    """Mean seconds of one call of each stage (policy, tool, verify, env_turn)."""

    @property
    def finished(self) -> int:
        return sum(self.statuses.values())


@dataclass
class ServiceStatus:
    """One service's own health: `up` is False when its `/metrics` did not answer."""

    name: str
    url: str
    up: bool
    in_flight: int = 0
    loop_lag_s: float = 0.0
    restarts: int = 0


@dataclass
class StackStatus:
    envs: list[EnvStatus]
    services: list[ServiceStatus]


async def read_stack(endpoint: str, token: str | None = None) -> StackStatus:
    """The stack behind the agent server at `endpoint`.

    Raises:
        ServiceError: the endpoint did not answer, or is not an RL Gym agent server.
    """
    endpoint = endpoint.rstrip("/")
    async with HttpClient(timeout_s=SCRAPE_TIMEOUT_S, max_retries=0, token=token) as http:
        try:
            envs = TypeAdapter(list[EnvInfo]).validate_python(await http.get(f"{endpoint}/v1/envs"))
        except (ValidationError, ServiceFailed, ServiceRejected) as error:
            if isinstance(error, ServiceRejected) and error.status == 401:
                raise  # the agent server, asking for the token
            raise ServiceError(
                f"{endpoint}/v1/envs", "not an RL Gym agent server (no list of environments)"
            ) from None
        agent = await _scrape(http, endpoint)
        if AGENT_SERIES not in agent.samples:
            raise ServiceError(
                f"{endpoint}/metrics", "not an RL Gym agent server (no rollout metrics)"
            )
        policy = [url.rstrip("/") for url in agent.label_values(POLICY_SERVER_INFO, "url")]
        others = policy + sorted({env.resources_url.rstrip("/") for env in envs})
        scraped = await asyncio.gather(
            *(_scrape(http, url) for url in others), return_exceptions=True
        )
    services = [_service(endpoint, agent)]
    for url, found in zip(others, scraped, strict=True):
        if isinstance(found, Exposition):
            services.append(_service(url, found))
        elif isinstance(found, ServiceError):
            services.append(ServiceStatus(name="?", url=url, up=False))
        else:
            raise found
    return StackStatus(envs=[_env(agent, env.name) for env in envs], services=services)


async def _scrape(http: HttpClient, url: str) -> Exposition:
    text = (await http.request_bytes("GET", f"{url}/metrics")).decode()
    try:
        return Exposition(text)
    except ValueError as error:
        raise ServiceError(f"{url}/metrics", f"not Prometheus metrics: {error}") from None


def _env(agent: Exposition, env: str) -> EnvStatus:
    statuses = {
        status: int(agent.value("rollouts_total", env=env, status=status))
        for status in agent.label_values("rollouts_total", "status")
    }
    failures = {
        kind: int(agent.value("rollout_failures_total", env=env, kind=kind))
        for kind in agent.label_values("rollout_failures_total", "kind")
    }
    return EnvStatus(
        env=env,
        running=int(agent.value("rollouts_running", env=env)),
        queued=int(agent.value("rollouts_queued", env=env)),
        statuses=statuses,
        failures={kind: count for kind, count in failures.items() if count},
        reward_mean=agent.mean("rollout_reward", env=env),
        stage_mean_s={stage: agent.mean("stage_seconds", env=env, stage=stage) for stage in STAGES},
    )


def _service(url: str, found: Exposition) -> ServiceStatus:
    return ServiceStatus(
        name=_name(found, url),
        url=url,
        up=True,
        in_flight=int(found.value("in_flight")),
        loop_lag_s=found.value("event_loop_lag_seconds"),
        restarts=int(found.value("restarts_total")),
    )


def _name(found: Exposition, url: str) -> str:
    """The service's name, from the `service` label of its series."""
    names = found.label_values("in_flight", "service")
    return names[0] if names else url
