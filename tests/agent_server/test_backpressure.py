"""Beyond what it runs at once, the agent server queues; past its bounded queue it answers
503 with `Retry-After` (never a failed rollout), and the rollout client waits and asks again.
A batch larger than `max_batch_samples` is refused whole with 413."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from gym_core.launch.local import Running
from gym_core.launch.plan import AGENT
from gym_core.rollout_client import AsyncRolloutClient
from tests.agent_server.test_abandoned_calls import metric
from tests.conftest import gym_stack, scripted_engine

RULES: list[dict[str, Any]] = [
    {"match": "^slow", "reply": "late 42", "delay_s": 1.5},
    {"reply": "quick 42"},
]
LIMITS = {"max_concurrency": 1, "max_queue": 1, "max_batch_samples": 2}


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    with (
        scripted_engine(RULES) as engine,
        gym_stack(["echo"], [engine], agent_server=LIMITS) as running,
    ):
        yield running


def task(prompt: str, index: int = 0) -> dict[str, Any]:
    return {"id": f"{prompt}-{index}", "env": "echo", "prompt": prompt, "expected": "42"}


async def post(url: str, body: dict[str, Any]) -> tuple[int, str | None, dict[str, Any]]:
    """Status, `Retry-After` and JSON body of one POST, with no retry."""
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        return response.status, response.headers.get("Retry-After"), await response.json()


async def test_a_full_queue_answers_503_with_retry_after_and_the_client_waits(
    running: Running,
) -> None:
    async with AsyncRolloutClient(running.endpoint) as client:
        # One slow sample runs, one waits: the queue is full.
        filling = asyncio.ensure_future(client.rollouts([task("slow")], samples_per_task=2))
        await asyncio.sleep(0.5)
        status, retry_after, body = await post(
            f"{running.endpoint}/v1/rollout", {"task": task("quick")}
        )
        assert status == 503
        assert float(retry_after or 0) > 0
        assert "max_concurrency + max_queue = 2" in body["error"]
        refused = metric(running.urls[AGENT], "requests_total", 'status="503"')
        # The client is told to wait, waits, and gets its rollout once there is room.
        result = await client.rollout(task("quick"))
        assert (result.status, result.reward) == ("completed", 1.0)
        assert metric(running.urls[AGENT], "requests_total", 'status="503"') > refused
        assert [r.status for r in await filling] == ["completed", "completed"]


async def test_a_streamed_batch_also_waits_for_room(running: Running) -> None:
    async with AsyncRolloutClient(running.endpoint) as client:
        filling = asyncio.ensure_future(client.rollouts([task("slow")], samples_per_task=2))
        await asyncio.sleep(0.5)
        streamed = [r async for r in client.stream([task("quick")], samples_per_task=2)]
        assert [r.status for r in streamed] == ["completed", "completed"]
        await filling


async def test_a_batch_over_max_batch_samples_is_413_naming_the_limit(running: Running) -> None:
    body = {"tasks": [task("quick", i) for i in range(3)], "samples_per_task": 1}
    status, _, answer = await post(f"{running.endpoint}/v1/rollouts", body)
    assert status == 413
    assert "3 x 1 = 3 is over max_batch_samples=2" in answer["error"]
