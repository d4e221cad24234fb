"""Sessions in shard actors: the shard's own logic without Ray, then two stores on a local Ray
cluster, as two replicas of an environment see them."""

from __future__ import annotations

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
