from __future__ import annotations

import pytest

from resources_server.sessions import SessionStore, UnknownSession


def test_idle_sessions_expire_and_used_ones_stay() -> None:
    store = SessionStore(ttl_s=10)
    idle = store.open(task="a", state=None)
    used = store.open(task="b", state=None)
    idle.touched -= 20
    used.touched -= 20
    store.get(used.id)
    assert store.expire() == 1
    assert len(store) == 1
    with pytest.raises(UnknownSession):
        store.get(idle.id)
    assert store.get(used.id).task == "b"


def test_ids_are_unguessable_and_distinct() -> None:
    store = SessionStore(ttl_s=10)
    ids = {store.open(task=None, state=None).id for _ in range(100)}
    assert len(ids) == 100
    assert all(len(session_id) >= 20 for session_id in ids)
