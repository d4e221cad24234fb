"""Calls whose caller has gone are released all the way down: a generation the agent gave up
on frees its gateway and engine slots at once, and a batch whose client hung up closes its
sessions. Real services on loopback; a scripted engine with few slots stands in for vLLM."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from gym_core.launch.local import Running
from gym_core.launch.plan import AGENT, POLICY, env_service_name
from gym_core.rollout_client import AsyncRolloutClient
from tests.conftest import gym_stack, metric, scripted_engine

ENGINE_SLOTS = 4
RULES: list[dict[str, Any]] = [
    {"match": "^hang", "hang": True},
    {"match": "^slow", "reply": "the answer is 42", "delay_s": 0.5},
    {"reply": "the answer is 42"},
]
WAVES = 5
WAVE = 20
HANGING = 2  # 10% of each wave's engine calls never answer


def eventually(read: Callable[[], float], expected: float, within_s: float = 5.0) -> float:
    """`read()` once it equals `expected`, or its last value after `within_s`."""
    deadline = time.monotonic() + within_s
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value


@contextlib.contextmanager
def stack(policy_timeout_s: float) -> Iterator[tuple[Running, str]]:
    """`gym serve echo` in front of the scripted engine; yields the services and the engine."""
    with (
        scripted_engine(RULES, max_concurrency=ENGINE_SLOTS) as engine,
        gym_stack(
            ["echo"], [engine], agent_server={"policy_timeout_s": policy_timeout_s}
        ) as running,
    ):
        yield running, engine


def task(prompt: str, index: int) -> dict[str, Any]:
    return {"id": f"{prompt}-{index}", "env": "echo", "prompt": prompt, "expected": "42"}


def test_hanging_engine_calls_never_starve_later_waves() -> None:
    """With 10% of generations hanging forever, every wave completes the other 90%: each
    hanging call is released when the agent's policy timeout gives up on it, instead of
    holding one of the engine's few slots until the gateway's own 600 s timeout."""
    wave = [task("hang", i) for i in range(HANGING)]
    wave += [task("ask", i) for i in range(WAVE - HANGING)]

    async def run_waves(endpoint: str) -> list[dict[str, int]]:
        outcomes = []
        async with AsyncRolloutClient(endpoint) as client:
            for _ in range(WAVES):
                results = await client.rollouts(wave)
                kinds = [r.failure.kind if r.failure else r.status for r in results]
                outcomes.append({kind: kinds.count(kind) for kind in set(kinds)})
        return outcomes

    with stack(policy_timeout_s=1.0) as (running, engine):
        outcomes = asyncio.run(run_waves(running.endpoint))
        expected = {"completed": WAVE - HANGING, "policy_timeout": HANGING}
        assert outcomes == [expected] * WAVES
        # Released at once, all the way down: no generation is left in the gateway or engine.
        assert eventually(lambda: metric(engine, "generating"), 0) == 0
        assert eventually(lambda: metric(running.urls[POLICY], "in_flight"), 1) == 1  # this one
        # Each turn was generated once: the gateway retried nothing, the agent resent nothing.
        generations = metric(engine, "requests_total", 'route="/v1/completions"')
        assert generations == WAVES * WAVE


def test_a_batch_whose_client_hung_up_is_cancelled_and_its_sessions_closed() -> None:
    async def hang_up(endpoint: str, resources: str) -> float:
        """Sessions open once the batch runs; then the client goes away."""
        async with AsyncRolloutClient(endpoint) as client:
            rows = [task("hang", i) for i in range(3)]
            batch = asyncio.ensure_future(client.rollouts(rows, samples_per_task=2))
            await asyncio.sleep(1.0)
            opened = await asyncio.to_thread(metric, resources, "sessions_open")
            batch.cancel()
            await asyncio.gather(batch, return_exceptions=True)
        return opened

    with stack(policy_timeout_s=300.0) as (running, engine):
        resources = running.urls[env_service_name("echo")]
        assert asyncio.run(hang_up(running.endpoint, resources)) == 6
        assert eventually(lambda: metric(resources, "sessions_open"), 0) == 0
        assert eventually(lambda: metric(engine, "generating"), 0) == 0
        assert eventually(lambda: metric(running.urls[AGENT], "rollouts_admitted"), 0) == 0
        assert metric(running.urls[AGENT], "requests_total", 'status="499"') == 1


def test_a_stream_whose_reader_stopped_sends_no_more_generations() -> None:
    async def read_one(endpoint: str) -> None:
        async with AsyncRolloutClient(endpoint) as client:
            async for result in client.stream([task("slow", i) for i in range(20)]):
                assert result.status == "completed"
                break  # the engine has 4 slots: 16 samples still wait for one

    with stack(policy_timeout_s=300.0) as (running, engine):
        asyncio.run(read_one(running.endpoint))
        time.sleep(1.5)  # three more rounds of generations, had they gone on
        generated = metric(engine, "requests_total", 'route="/v1/completions",status="200"')
        assert generated <= 2 * ENGINE_SLOTS
        assert eventually(lambda: metric(engine, "generating"), 0) == 0
        resources = running.urls[env_service_name("echo")]
        assert eventually(lambda: metric(resources, "sessions_open"), 0) == 0
