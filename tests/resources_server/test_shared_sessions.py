"""The shard's own logic, without Ray (the cluster tests run it as an actor)."""

from __future__ import annotations

import pickle

from resources_server.shared_sessions import SessionShard


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
