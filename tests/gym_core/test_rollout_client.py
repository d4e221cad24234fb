"""The trainer's client when the agent server goes away mid-request: nothing is lost."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from gym_core.errors import ServiceUnavailable
from gym_core.launch.local import LocalLauncher, ServiceProcess
from gym_core.launch.plan import AGENT
from gym_core.rollout_client import AsyncRolloutClient
from tests.conftest import make_config, scripted_engine

RULES: list[dict[str, Any]] = [
    {"match": "^slow", "reply": "late 42", "delay_s": 60},
    {"reply": "quick 42"},
]


@pytest.fixture
def stack() -> Iterator[tuple[str, ServiceProcess]]:
    """The services of `gym serve echo`; yields the endpoint and the agent server's process."""
    with scripted_engine(RULES) as engine:
        launcher = LocalLauncher(make_config([engine]), ["echo"])
        try:
            running = launcher.start()
            asyncio.run(launcher.wait_ready())
            agent = next(p for p in launcher.processes if p.name == AGENT)
            yield running.endpoint, agent
        finally:
            launcher.stop()


def task(prompt: str, index: int) -> dict[str, Any]:
    return {"id": f"{prompt}-{index}", "env": "echo", "prompt": prompt, "expected": "42"}


async def test_a_stream_cut_short_returns_the_rest_as_replica_lost(
    stack: tuple[str, ServiceProcess],
) -> None:
    endpoint, agent = stack
    tasks = [task("quick", 0), task("slow", 0), task("quick", 1)]
    results = []
    async with AsyncRolloutClient(endpoint) as client:
        async for result in client.stream(tasks, samples_per_task=2):
            results.append(result)
            if len(results) == 4:  # every quick sample is in; the slow ones are running
                agent.signal_group(signal.SIGKILL)
    assert len(results) == 6
    completed, lost = results[:4], results[4:]
    assert all(r.status == "completed" and r.reward == 1.0 for r in completed)
    assert [(r.task_id, r.sample_index) for r in lost] == [("slow-0", 0), ("slow-0", 1)]
    assert all(r.status == "failed" and r.failure.kind == "replica_lost" for r in lost)
    assert lost[0].group_id == lost[1].group_id
    assert lost[0].messages[0].content == "slow"


async def test_a_single_rollout_cut_short_comes_back_failed(
    stack: tuple[str, ServiceProcess],
) -> None:
    endpoint, agent = stack
    async with AsyncRolloutClient(endpoint) as client:
        running = asyncio.ensure_future(client.rollout(task("slow", 0), group_id="g"))
        await asyncio.sleep(1)
        agent.signal_group(signal.SIGKILL)
        result = await running
    assert result.status == "failed"
    assert result.failure.kind == "replica_lost"
    assert result.group_id == "g"


async def test_an_endpoint_that_never_answered_is_an_error() -> None:
    async with AsyncRolloutClient("http://127.0.0.1:1") as client:
        with pytest.raises(ServiceUnavailable, match="cannot connect"):
            await client.rollouts([task("quick", 0)])
