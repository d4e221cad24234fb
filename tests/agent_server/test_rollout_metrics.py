"""The agent server's `/metrics` carries what a training run watches, per environment: rollouts
running and queued, results by status and failure kind, rewards, and each stage's latency."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from gym_core.launch.local import Running
from gym_core.launch.plan import AGENT
from gym_core.metrics import Exposition
from gym_core.rollout_client import AsyncRolloutClient
from tests.conftest import gym_stack, scripted_engine

RULES: list[dict[str, Any]] = [
    {"role": "tool", "reply": "the tool said so: 42"},
    {"match": "^slow", "reply": "late 42", "delay_s": 1.0},
    {"match": "^wrong", "reply": "no idea"},
    {"match": "^tool", "tool_calls": [{"name": "echo", "arguments": {"text": "hi"}}]},
    {"match": "^refuse", "status": 400, "reply": "refused"},
    {"reply": "ok 42"},
]
LIMITS = {"max_concurrency": 2}


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    with (
        scripted_engine(RULES) as engine,
        gym_stack(["echo", "dialog"], [engine], agent_server=LIMITS) as running,
    ):
        yield running


def scrape(url: str) -> Exposition:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as answer:
        return Exposition(answer.read().decode())


def task(prompt: str, env: str = "echo", **fields: Any) -> dict[str, Any]:
    return {"id": prompt, "env": env, "prompt": prompt, "expected": "42", **fields}


async def test_counters_and_histograms_count_each_rollout_by_env(running: Running) -> None:
    agent = running.urls[AGENT]
    before = scrape(agent)
    tasks = [
        task("plain"),
        task("wrong"),
        task("tool"),
        task("refuse"),
        task("talk", "dialog", user_turns=["again"]),
    ]
    async with AsyncRolloutClient(running.endpoint) as client:
        results = await client.rollouts(tasks, samples_per_task=2)
    assert [r.status for r in results] == ["completed"] * 6 + ["failed"] * 2 + ["completed"] * 2
    after = scrape(agent)

    def added(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert added("rollouts_total", env="echo", status="completed") == 6
    assert added("rollouts_total", env="echo", status="failed") == 2
    assert added("rollouts_total", env="dialog", status="completed") == 2
    assert added("rollout_failures_total", env="echo", kind="policy_error") == 2
    assert added("failures_total", kind="policy_error") == 2  # the service-wide count, as before
    assert added("rollout_reward_count", env="echo") == 6
    assert added("rollout_reward_sum", env="echo") == 4  # plain and tool: 1; wrong: 0
    assert added("rollout_reward_bucket", env="echo", le="0.0") == 2
    assert added("rollout_reward_count", env="dialog") == 2

    def calls(env: str, stage: str) -> float:
        return added("stage_seconds_count", env=env, stage=stage)

    # echo: plain, wrong and refuse one generation each, tool two; dialog: one per user turn.
    assert calls("echo", "policy") == 2 * (1 + 1 + 2 + 1)
    assert calls("echo", "tool") == 2
    assert calls("echo", "verify") == 6
    assert calls("echo", "env_turn") == 0
    assert (calls("dialog", "policy"), calls("dialog", "env_turn")) == (4, 4)
    assert added("stage_seconds_bucket", env="echo", stage="policy", le="+Inf") == 10
    assert added("stage_seconds_sum", env="echo", stage="tool") > 0


async def test_running_and_queued_gauges_follow_a_slow_batch(running: Running) -> None:
    agent = running.urls[AGENT]
    async with AsyncRolloutClient(running.endpoint) as client:
        batch = asyncio.ensure_future(client.rollouts([task("slow")], samples_per_task=5))
        seen = await asyncio.to_thread(wait_for, agent, running=2, queued=3)
        assert seen == (2, 3)  # max_concurrency=2 run, the other three wait
        results = await batch
    assert all(r.status == "completed" for r in results)
    assert await asyncio.to_thread(wait_for, agent, running=0, queued=0) == (0, 0)
    assert scrape(agent).value("rollouts_admitted") == 0


def wait_for(agent: str, *, running: int, queued: int, within_s: float = 30) -> tuple[int, int]:
    """The echo environment's (running, queued) once it equals the one asked for, or the last
    seen after `within_s`."""
    deadline = time.monotonic() + within_s
    while True:
        metrics = scrape(agent)
        seen = (
            int(metrics.value("rollouts_running", env="echo")),
            int(metrics.value("rollouts_queued", env="echo")),
        )
        if seen == (running, queued) or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def test_every_service_exposes_its_loop_lag_and_follows_the_naming_rules(
    running: Running,
) -> None:
    for name, url in running.urls.items():
        metrics = scrape(url)
        lag = metrics.samples["rlgym_event_loop_lag_seconds"]
        assert len(lag) == 1, name
        assert 0 <= lag[0][1] < 60, name  # sane: a live loop, not one stuck for a minute
        for sample in metrics.samples:
            assert sample.startswith("rlgym_"), sample
            assert not sample.endswith("_created"), sample
        assert all(
            labels["service"] for samples in metrics.samples.values() for labels, _ in samples
        )
