"""Sessions every replica of an environment reaches: a few Ray actors holding pickled state.

Under `gym serve --cluster` an environment runs as several replicas behind Ray Serve's proxy,
and any of them may get the next request of a session. Rather than pin a session to the
replica that opened it (which would lose the session with the replica, and when autoscaling
removes one), each session lives in a shard actor, chosen by a stable hash of its id. The
shards hold bytes only (the task and the state, pickled by the replica), so they never import
an environment, and a replica that dies between two requests of a session loses nothing.

A shard expires idle sessions itself, on the calls it gets, with the same TTL as the local
store. Shards are named, detached actors that every replica gets or creates by name; the
launcher that named them removes them when it stops. Ray is imported only when a shared store
is made.
"""

from __future__ import annotations

import pickle
import time
import zlib
from typing import Any

from gym_core.settings import SessionShards
from resources_server.sessions import (
    Session,
    SessionStore,
    UnknownSession,
    new_session_id,
    sweep_interval,
)

__all__ = ["SessionShard", "SharedSessions"]


class SessionShard:
    """One shard: session id -> (pickled task and state, last use)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._sessions: dict[str, tuple[bytes, float]] = {}
        self._next_sweep = time.monotonic() + sweep_interval(ttl_s)

    def put(self, session_id: str, blob: bytes) -> int:
        """Store a session; returns how many the shard holds."""
        self._sweep()
        self._sessions[session_id] = (blob, time.monotonic())
        return len(self._sessions)

    def get(self, session_id: str) -> bytes | None:
        """The session, its idle clock reset; None when there is none."""
        self._sweep()
        found = self._sessions.get(session_id)
        if found is None:
            return None
        self._sessions[session_id] = (found[0], time.monotonic())
        return found[0]

    def remove(self, session_id: str) -> tuple[bool, int]:
        """Forget a session; whether there was one, and how many the shard still holds."""
        removed = self._sessions.pop(session_id, None) is not None
        return removed, len(self._sessions)

    def _sweep(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + sweep_interval(self.ttl_s)
        cutoff = now - self.ttl_s
        for session_id in [sid for sid, (_, used) in self._sessions.items() if used < cutoff]:
            del self._sessions[session_id]


class SharedSessions(SessionStore):
    """The sessions of one environment, in shard actors shared by all of its replicas."""

    def __init__(self, ttl_s: float, shards: SessionShards) -> None:
        import ray

        self.ttl_s = ttl_s
        actor = ray.remote(SessionShard)
        self._shards: list[Any] = [
            actor.options(
                name=name,
                namespace=shards.namespace,
                get_if_exists=True,  # the first replica to start creates it
                lifetime="detached",  # it outlives any one replica
                num_cpus=0,
                max_restarts=-1,
                scheduling_strategy="SPREAD",
            ).remote(ttl_s)
            for name in shards.names
        ]
        self._sizes = [0] * len(self._shards)

    def __len__(self) -> int:
        return sum(self._sizes)

    async def open(self, task: Any, state: Any) -> Session:
        session = Session(id=new_session_id(), task=task, state=state)
        await self.save(session)
        return session

    async def get(self, session_id: str) -> Session:
        blob = await self._shard(session_id).get.remote(session_id)
        if blob is None:
            raise UnknownSession(session_id)
        task, state = pickle.loads(blob)
        return Session(id=session_id, task=task, state=state, snapshot=blob)

    async def save(self, session: Session) -> None:
        blob = pickle.dumps((session.task, session.state), protocol=pickle.HIGHEST_PROTOCOL)
        if blob == session.snapshot:
            return  # the call changed nothing
        index = self._index(session.id)
        self._sizes[index] = await self._shards[index].put.remote(session.id, blob)
        session.snapshot = blob

    async def close(self, session_id: str) -> bool:
        index = self._index(session_id)
        removed, self._sizes[index] = await self._shards[index].remove.remote(session_id)
        return bool(removed)

    async def expire_forever(self) -> None:
        """Nothing to do here: each shard drops its idle sessions itself."""

    def _index(self, session_id: str) -> int:
        # crc32, not hash(): every replica must pick the same shard for an id.
        return zlib.crc32(session_id.encode()) % len(self._shards)

    def _shard(self, session_id: str) -> Any:
        return self._shards[self._index(session_id)]
