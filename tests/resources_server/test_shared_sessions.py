"""Sessions in shard actors: the shard's own logic without Ray, then two stores on a local Ray
cluster, as two replicas of an environment see them."""

from __future__ import annotations

import asyncio
import pickle

import pytest

from gym_core.settings import SessionShards
from resources_server.sessions import UnknownSession
from resources_server.shared_sessions import SessionShard, SharedSessions
from tests.fixtures.echo_env import EchoTask, Notes


def test_a_shard_keeps_sessions_until_removed_and_reports_its_size() -> None:
    shard = SessionShard(ttl_s=60)
    blob = pickle.dumps(("task", {"n": 1}))
    assert shard.put("a", blob) == 1
    assert shard.put("b", blob) == 2
    assert shard.get("a") == blob
    assert shard.get("nope") is None
    assert shard.remove("a") == (True, 1)
    assert shard.remove("a") == (False, 1)
    assert shard.get("a") is None


def test_a_batch_runs_in_order_and_answers_each_operation() -> None:
    shard = SessionShard(ttl_s=60)
    answers, size = shard.apply(
        [("put", "a", b"1"), ("get", "a"), ("put", "b", b"2"), ("take", "a"), ("get", "a")]
    )
    assert answers == [1, b"1", 2, b"1", None]
    assert size == 1
    assert shard.apply([("remove", "b"), ("take", "b")]) == ([(True, 0), None], 0)


def test_idle_sessions_expire_on_the_next_call() -> None:
    shard = SessionShard(ttl_s=8)
    shard.put("idle", b"x")
    shard.put("used", b"y")
    shard._sessions["idle"] = (b"x", 0.0)  # untouched since the clock's start
    shard._next_sweep = 0.0
    assert shard.get("used") == b"y"
    assert shard.get("idle") is None


@pytest.mark.cluster
@pytest.mark.slow
async def test_two_replicas_see_one_session_through_the_shards(ray_cluster: str) -> None:
    import ray

    shards = SessionShards(namespace="rl_gym", names=["test-sessions-0", "test-sessions-1"])
    one, two = SharedSessions(60, shards), SharedSessions(60, shards)  # as two replicas
    try:
        opened = await one.open(EchoTask(id="t"), Notes())
        seen = await two.get(opened.id)
        seen.state.entries["k"] = "v"  # what a tool does on the other replica
        await two.save(seen)
        assert (await one.get(opened.id)).state.entries == {"k": "v"}
        assert len(one) == 1  # as the shard reported it
        assert await one.close(opened.id) is True
        assert await two.close(opened.id) is False
        with pytest.raises(UnknownSession):
            await two.get(opened.id)
    finally:
        for name in shards.names:
            ray.kill(ray.get_actor(name, namespace=shards.namespace))


@pytest.mark.cluster
@pytest.mark.slow
async def test_each_operation_of_a_batch_gets_its_own_answer(ray_cluster: str) -> None:
    """Operations batched into one Ray call must each reach their own caller: a session read
    answered with another's state would be scored against the wrong task."""
    import ray

    shards = SessionShards(namespace="rl_gym", names=["test-batched-0"])
    store = SharedSessions(60, shards)
    try:
        opened = await asyncio.gather(
            *(store.open(EchoTask(id=f"t{n}"), _notes(n=str(n))) for n in range(64))
        )
        seen = await asyncio.gather(*(store.get(session.id) for session in opened))
        assert [s.task.id for s in seen] == [f"t{n}" for n in range(64)]
        assert [s.state.entries for s in seen] == [{"n": str(n)} for n in range(64)]
        taken = await asyncio.gather(*(store.take(session.id) for session in opened[:32]))
        assert [s.id for s in taken] == [s.id for s in opened[:32]]
        assert len(store) == 32  # as the shard reported it with its last answer
        with pytest.raises(UnknownSession):
            await store.get(opened[0].id)

        # A shard that dies fails the calls it held; later calls reach its restart.
        ray.kill(ray.get_actor(shards.names[0], namespace=shards.namespace), no_restart=False)
        lost = await asyncio.gather(
            *(store.get(session.id) for session in opened[32:40]), return_exceptions=True
        )
        for session, answer in zip(opened[32:40], lost, strict=True):  # answered, or failed
            assert isinstance(answer, ray.exceptions.RayError | UnknownSession) or (
                answer.id == session.id and answer.task.id == session.task.id
            )
        for _ in range(40):  # until the restarted shard answers
            try:
                reopened = await store.open(EchoTask(id="after"), Notes())
                break
            except ray.exceptions.RayError:
                await asyncio.sleep(0.25)
        assert (await store.get(reopened.id)).task.id == "after"
    finally:
        ray.kill(ray.get_actor(shards.names[0], namespace=shards.namespace))


def _notes(**entries: str) -> Notes:
    notes = Notes()
    notes.entries.update(entries)
    return notes
