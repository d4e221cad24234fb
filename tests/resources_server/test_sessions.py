from __future__ import annotations

import pytest

from resources_server.sessions import LocalSessions, UnknownSession


async def test_idle_sessions_expire_and_used_ones_stay() -> None:
    store = LocalSessions(ttl_s=10)
    idle = await store.open(task="a", state=None)
    used = await store.open(task="b", state=None)
    idle.touched -= 20
    used.touched -= 20
    await store.get(used.id)
    assert store.expire() == 1
    assert len(store) == 1
    with pytest.raises(UnknownSession):
        await store.get(idle.id)
    assert (await store.get(used.id)).task == "b"


async def test_ids_are_unguessable_and_distinct() -> None:
    store = LocalSessions(ttl_s=10)
    ids = {(await store.open(task=None, state=None)).id for _ in range(100)}
    assert len(ids) == 100
    assert all(len(session_id) >= 20 for session_id in ids)


async def test_the_state_is_the_object_tools_change() -> None:
    store = LocalSessions(ttl_s=10)
    session = await store.open(task=None, state={"n": 0})
    (await store.get(session.id)).state["n"] += 1
    assert (await store.get(session.id)).state == {"n": 1}
    assert await store.close(session.id) is True
    assert await store.close(session.id) is False
