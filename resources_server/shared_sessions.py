"""Sessions every replica of an environment reaches: a few Ray actors holding pickled state.

Under `gym serve --cluster` an environment runs as several replicas behind Ray Serve's proxy,
and any of them may get the next request of a session. Rather than pin a session to the
replica that opened it (which would lose the session with the replica, and when autoscaling
removes one), each session lives in a shard actor, chosen by a stable hash of its id. The
shards hold bytes only (the task and the state, pickled by the replica), so they never import
an environment, and a replica that dies between two requests of a session loses nothing.

A Ray call costs far more CPU than the work it carries (about half a millisecond on each side
against microseconds to store a blob), so a replica sends its operations on a shard in
batches: the first goes at once, and those that arrive while a call is in flight go together
in the next (`_ShardChannel`). Nothing waits for a batch to fill, so an idle replica pays no
latency, and a busy one pays one call for many operations.

A shard expires idle sessions itself, on the calls it gets, with the same TTL as the local
store. Shards are named, detached actors that every replica gets or creates by name; the
launcher that named them removes them when it stops. Ray is imported only when a shared store
is made.
"""

from __future__ import annotations

import asyncio
import pickle
import time
import zlib
from typing import Any, Literal

from gym_core.settings import SessionShards
from resources_server.sessions import (
    Session,
    SessionStore,
    UnknownSession,
    new_session_id,
    sweep_interval,
)

__all__ = ["SessionShard", "SharedSessions"]

Operation = tuple[Literal["get", "take", "remove"], str] | tuple[Literal["put"], str, bytes]
"""What a replica asks of a shard: the method of `SessionShard` and its arguments."""


class SessionShard:
    """One shard: session id -> (pickled task and state, last use)."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._sessions: dict[str, tuple[bytes, float]] = {}
        self._next_sweep = time.monotonic() + sweep_interval(ttl_s)

    def apply(self, operations: list[Operation]) -> tuple[list[Any], int]:
        """Run a batch in order: each operation's answer, and how many sessions the shard holds."""
        answers = [getattr(self, method)(*arguments) for method, *arguments in operations]
        return answers, len(self._sessions)

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

    def take(self, session_id: str) -> bytes | None:
        """The session, forgotten; None when there is none."""
        self._sweep()
        found = self._sessions.pop(session_id, None)
        return None if found is None else found[0]

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


class _ShardChannel:
    """A replica's operations on one shard, sent in batches: one Ray call in flight at a time,
    and what arrived meanwhile goes in the next."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.size = 0
        """How many sessions the shard held at its last answer."""
        self._waiting: list[tuple[Operation, asyncio.Future[Any]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def call(self, operation: Operation) -> Any:
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((operation, answer))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send())
        return await answer

    async def _send(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                answers, self.size = await self.actor.apply.remote([op for op, _ in batch])
            except Exception as error:  # Ray's failure is each caller's, as a call of its own
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(error)
                continue
            for (_, answer), value in zip(batch, answers, strict=True):
                if not answer.done():  # its caller may have given up waiting
                    answer.set_result(value)


class SharedSessions(SessionStore):
    """The sessions of one environment, in shard actors shared by all of its replicas."""

    def __init__(self, ttl_s: float, shards: SessionShards) -> None:
        import ray

        self.ttl_s = ttl_s
        actor = ray.remote(SessionShard)
        self._channels = [
            _ShardChannel(
                actor.options(
                    name=name,
                    namespace=shards.namespace,
                    get_if_exists=True,  # the first replica to start creates it
                    lifetime="detached",  # it outlives any one replica
                    num_cpus=0,
                    max_restarts=-1,
                    scheduling_strategy="SPREAD",
                ).remote(ttl_s)
            )
            for name in shards.names
        ]

    def __len__(self) -> int:
        return sum(channel.size for channel in self._channels)

    async def open(self, task: Any, state: Any) -> Session:
        session = Session(id=new_session_id(), task=task, state=state)
        await self.save(session)
        return session

    async def get(self, session_id: str) -> Session:
        return self._loaded(session_id, await self._channel(session_id).call(("get", session_id)))

    async def take(self, session_id: str) -> Session:
        return self._loaded(session_id, await self._channel(session_id).call(("take", session_id)))

    async def save(self, session: Session) -> None:
        blob = pickle.dumps((session.task, session.state), protocol=pickle.HIGHEST_PROTOCOL)
        if blob == session.snapshot:
            return  # the call changed nothing
        await self._channel(session.id).call(("put", session.id, blob))
        session.snapshot = blob

    async def close(self, session_id: str) -> bool:
        removed, _ = await self._channel(session_id).call(("remove", session_id))
        return bool(removed)

    async def expire_forever(self) -> None:
        """Nothing to do here: each shard drops its idle sessions itself."""

    @staticmethod
    def _loaded(session_id: str, blob: bytes | None) -> Session:
        if blob is None:
            raise UnknownSession(session_id)
        task, state = pickle.loads(blob)
        return Session(id=session_id, task=task, state=state, snapshot=blob)

    def _channel(self, session_id: str) -> _ShardChannel:
        # crc32, not hash(): every replica must pick the same shard for an id.
        return self._channels[zlib.crc32(session_id.encode()) % len(self._channels)]
