"""The policy's controls at the rollout endpoint, and the batch controls a trainer steers with:
real agent, resources and policy servers on loopback, scripted engines standing in for the model."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest

from gym_core.errors import ServiceFailed, ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.launch.local import Running
from gym_core.launch.plan import env_service_name
from gym_core.rollout_client import AsyncRolloutClient, RolloutClient
from tests.conftest import gym_stack, scripted_engine

WAIT = {"name": "echo", "arguments": {"text": "wait"}}
AGAIN = {"name": "echo", "arguments": {"text": "again"}}
RULES: list[dict[str, Any]] = [
    {"role": "user", "match": "^slow tool", "tool_calls": [WAIT]},
    {"role": "tool", "match": "^wait$", "reply": "done", "delay_s": 1.5},
    {"role": "user", "match": "^stale", "tool_calls": [AGAIN]},
    {"role": "tool", "match": "^again$", "tool_calls": [AGAIN], "delay_s": 1.5},
    {"role": "user", "match": "^slow", "reply": "late", "delay_s": 1.5},
    {"role": "user", "match": "^coin", "replies": ["heads", "tails"]},
    {"role": "user", "match": "^right", "reply": "right"},
    {"role": "user", "match": "^crash", "status": 500},
    {"role": "user", "match": "^seed", "reply": "seed {seed}"},
    {"reply": "plain"},
]


@pytest.fixture(scope="module")
def stack() -> Iterator[Running]:
    with (
        scripted_engine(RULES) as engine_url,
        # The OpenAI client's base_url habit (`/v1`) is accepted as the engine's address.
        gym_stack(["echo"], [f"{engine_url}/v1/"], agent_server={"policy_timeout_s": 2}) as running,
    ):
        yield running


@pytest.fixture(scope="module")
def serial_stack() -> Iterator[Running]:
    """One episode at a time, so the samples of a group meet the alternating rule in a row."""
    with (
        scripted_engine(RULES) as engine_url,
        gym_stack(["echo"], [engine_url], agent_server={"max_concurrency": 1}) as running,
    ):
        yield running


def task(prompt: str, expected: str = "", **fields: Any) -> dict[str, Any]:
    return {"id": prompt.replace(" ", "-"), "env": "echo", "prompt": prompt, "expected": expected}


async def wait_until_generating(client: AsyncRolloutClient, count: int = 1) -> None:
    for _ in range(200):
        if (await client.policy()).in_flight >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no generation started")


def sessions_open(running: Running) -> int:
    import urllib.request

    with urllib.request.urlopen(f"{running.urls[env_service_name('echo')]}/metrics") as answer:
        found = re.search(rb"sessions_open\{[^}]*\} (\d+)", answer.read())
    assert found is not None
    return int(found.group(1))


def test_the_policy_state_and_version_are_reached_through_the_rollout_endpoint(
    stack: Running,
) -> None:
    with RolloutClient(stack.endpoint) as client:
        state = client.policy()
        assert state.paused is False
        assert [engine.healthy for engine in state.engines] == [True]
        assert client.set_policy_version(7).version == 7
        [result] = client.rollouts([task("hello")])
        assert result.turns[0].policy_version == 7
        assert (result.policy_version_min, result.policy_version_max) == (7, 7)
        assert client.resume_policy(version=8).version == 8
        assert client.rollouts([task("hello")])[0].turns[0].policy_version == 8


async def test_bad_versions_are_422_naming_the_field(stack: Running) -> None:
    async with HttpClient() as http:
        before = (await http.get(f"{stack.endpoint}/v1/policy"))["version"]
        for path, body in (
            ("version", b'{"version": -1}'),
            ("version", b'{"version": 18446744073709551616}'),
            ("version", b'{"version": "x"}'),
            ("version", b"{}"),
            ("version", b'{"version": true}'),  # not version 1
            ("version", b'{"version": "7"}'),
            ("resume", b'{"version": true}'),
        ):
            with pytest.raises(ServiceRejected) as caught:
                await http.post(f"{stack.endpoint}/v1/policy/{path}", body)
            assert caught.value.status == 422
            assert "version" in str(caught.value)
        assert (await http.get(f"{stack.endpoint}/v1/policy"))["version"] == before


async def test_pause_holds_new_generations_without_counting_against_timeouts(
    stack: Running,
) -> None:
    async with AsyncRolloutClient(stack.endpoint) as client:
        running = asyncio.ensure_future(client.rollouts([task("slow")]))
        await wait_until_generating(client)
        paused = await client.pause_policy()
        assert paused.paused is True
        assert paused.in_flight == 0  # the running generation finished first
        waiting = asyncio.ensure_future(client.rollouts([task("hello")]))
        # Longer than the agent's policy timeout (2 s): paused time does not count.
        await asyncio.sleep(3.5)
        assert not waiting.done()
        resumed = await client.resume_policy()
        assert resumed.paused is False
        assert resumed.paused_total_s >= 3.5
        [held] = await waiting
        [first] = await running
    assert first.status == "completed"
    assert held.status == "completed", held.failure


async def test_a_pause_with_a_deadline_lifts_itself(stack: Running) -> None:
    async with AsyncRolloutClient(stack.endpoint) as client:
        paused = await client.pause_policy(deadline_s=1.0)
        assert paused.paused is True
        assert paused.pause_lifts_in_s is not None
        assert 0 < paused.pause_lifts_in_s <= 1.0
        [held] = await client.rollouts([task("hello")])  # generated once the deadline passed
        state = await client.policy()
    assert held.status == "completed", held.failure
    assert (state.paused, state.pause_lifts_in_s) == (False, None)


def test_an_engine_that_reports_its_version_is_recorded_as_such() -> None:
    with (
        scripted_engine([{"reply": "hi"}], policy_version=41) as engine_url,
        gym_stack(["echo"], [engine_url]) as running,
        RolloutClient(running.endpoint) as client,
    ):
        client.set_policy_version(3)
        [result] = client.rollouts([task("hello")])
    assert result.turns[0].policy_version == 41


async def test_max_staleness_ends_an_episode_that_spans_too_many_versions(
    stack: Running,
) -> None:
    async with AsyncRolloutClient(stack.endpoint) as client:
        await client.set_policy_version(20)
        batch = asyncio.ensure_future(
            client.rollouts([task("stale"), task("hello")], max_staleness=1)
        )
        await asyncio.sleep(0.7)  # turn 2 of `stale` is generating (1.5 s) under version 20
        await client.set_policy_version(22)
        stale, fresh = await batch
        lenient = await client.rollouts([task("stale")], max_staleness=1)
    assert stale.status == "failed"
    assert stale.failure is not None
    assert stale.failure.kind == "stale"
    assert "max_staleness=1" in stale.failure.message
    assert len(stale.turns) == 2  # the partial trajectory comes back
    assert (stale.policy_version_min, stale.policy_version_max) == (20, 20)
    assert fresh.status == "completed"
    assert lenient[0].status == "truncated"  # no version change: max_turns ends it


async def test_a_cancelled_batch_returns_every_sample_once_and_closes_sessions(
    stack: Running,
) -> None:
    async with AsyncRolloutClient(stack.endpoint) as client:
        batch = asyncio.ensure_future(
            client.rollouts([task("slow tool"), task("slow")], samples_per_task=3, batch_id="b-1")
        )
        await wait_until_generating(client, 6)
        with pytest.raises(ServiceRejected) as taken:
            await client.rollouts([task("hello")], batch_id="b-1")
        assert taken.value.status == 409
        cancelled = await client.cancel_batch("b-1")
        results = await batch
        with pytest.raises(ServiceRejected) as gone:
            await client.cancel_batch("b-1")
    assert gone.value.status == 404
    assert cancelled.cancelled == 6
    assert sorted((r.task_id, r.sample_index) for r in results) == [
        (name, index) for name in ("slow", "slow-tool") for index in range(3)
    ]
    assert {r.failure.kind for r in results if r.failure} == {"cancelled"}
    assert all(r.status == "failed" and r.reward is None for r in results)
    assert all(len(r.turns) == 1 for r in results if r.task_id == "slow-tool")
    assert sessions_open(stack) == 0


async def test_a_streamed_batch_can_be_cancelled(stack: Running) -> None:
    async with AsyncRolloutClient(stack.endpoint) as client:

        async def collect() -> list[Any]:
            return [r async for r in client.stream([task("slow")], 2, batch_id="s-1")]

        streamed = asyncio.ensure_future(collect())
        await wait_until_generating(client, 2)
        assert (await client.cancel_batch("s-1")).cancelled == 2
        results = await streamed
    assert sorted(r.sample_index for r in results) == [0, 1]
    assert {r.failure.kind for r in results if r.failure} == {"cancelled"}


async def test_groups_say_whether_they_carry_signal(serial_stack: Running) -> None:
    async with AsyncRolloutClient(serial_stack.endpoint) as client:
        answer = await client.batch(
            [task("coin", expected="heads"), task("right", expected="right"), task("crash")],
            samples_per_task=4,
        )
    coin, right, crash = answer.groups
    assert (coin.has_signal, coin.reward_mean, coin.failed) == (True, 0.5, 0)
    assert (right.has_signal, right.reward_mean) == (False, 1.0)
    assert (crash.has_signal, crash.failed, crash.reward_mean) == (False, 4, None)


async def test_dynamic_sampling_keeps_only_groups_with_signal(serial_stack: Running) -> None:
    tasks = [task(f"coin {n}", expected="heads") for n in range(3)]
    tasks += [task(f"right {n}", expected="right") for n in range(4)]
    tasks += [task(f"crash {n}") for n in range(2)]
    async with AsyncRolloutClient(serial_stack.endpoint) as client:
        batch = await client.groups_with_signal(tasks, n_groups=2, samples_per_task=2, seed=3)
    assert len(batch.groups) == 2
    assert all(group.has_signal for group in batch.groups)
    assert len(batch.results) == 4
    assert {r.task_id for r in batch.results} <= {t["id"] for t in tasks[:3]}
    dropped = batch.dropped_equal + batch.dropped_failed + batch.surplus
    assert dropped + len(batch.groups) == batch.tasks_drawn


async def test_a_batch_the_policy_failed_whole_is_a_503_naming_it(stack: Running) -> None:
    async with AsyncRolloutClient(stack.endpoint) as client:
        with pytest.raises(ServiceFailed) as caught:
            await client.rollouts([task("crash")], samples_per_task=2)
    assert caught.value.status == 503
    assert "every sample failed at the policy" in str(caught.value)


async def test_each_sample_gets_its_own_recorded_seed(stack: Running) -> None:
    async with AsyncRolloutClient(stack.endpoint) as client:
        first = await client.rollouts([task("seed")], samples_per_task=4, sampling={"seed": 7})
        again = await client.rollouts([task("seed")], samples_per_task=4, sampling={"seed": 7})
        unseeded = await client.rollouts([task("seed")])
    seeds = [r.seed for r in first]
    assert len(set(seeds)) == 4  # samples of a group differ
    assert [r.seed for r in again] == seeds  # and the same request reproduces them
    assert [r.messages[-1].content for r in first] == [f"seed {seed}" for seed in seeds]
    assert unseeded[0].seed is None
    assert unseeded[0].messages[-1].content == "seed None"
