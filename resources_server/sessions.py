"""Per-episode state, reachable only by an unguessable id, dropped when left idle.

An agent that crashes mid-episode never calls `DELETE`; the idle timeout is what guarantees
that a long training run does not slowly fill the server's memory with abandoned sessions.

Two stores share one interface. `LocalSessions` keeps the sessions in this process: one
server process per environment, the local launcher's case, and the hot path of every local
rollout. `SharedSessions` (`resources_server.shared_sessions`) keeps them in Ray actors that
every replica of the environment reaches, so any replica can serve any request of a session
and a replica that dies loses none of them. The server saves a session back after a call that
may have changed its state (`save`); for the local store that costs nothing.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LocalSessions",
    "Session",
    "SessionStore",
    "UnknownSession",
    "new_session_id",
]

SWEEP_INTERVAL_MAX_S = 30.0


class UnknownSession(KeyError):
    """No session has this id: it never existed, was closed, or expired."""


@dataclass
class Session:
    id: str
    task: Any
    """The environment's task model, validated when the session was seeded."""
    state: Any
    touched: float = field(default_factory=time.monotonic)
    snapshot: bytes | None = field(default=None, repr=False)
    """The state as the store last saw it, when the store keeps it serialized (so that a
    call that changed nothing is not written back)."""


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


def sweep_interval(ttl_s: float) -> float:
    """How often idle sessions are looked for: a fraction of the TTL, at most 30 s."""
    return min(SWEEP_INTERVAL_MAX_S, ttl_s / 4)


class SessionStore(ABC):
    """Where a resources server keeps its sessions."""

    ttl_s: float

    @abstractmethod
    async def open(self, task: Any, state: Any) -> Session: ...

    @abstractmethod
    async def get(self, session_id: str) -> Session:
        """The session, its idle clock reset. Raises `UnknownSession`."""

    @abstractmethod
    async def take(self, session_id: str) -> Session:
        """The session, closed in the same step (a last call that needs it once more).
        Raises `UnknownSession`."""

    @abstractmethod
    async def save(self, session: Session) -> None:
        """Keep the session's state as it is now (after a tool or `respond` ran on it)."""

    @abstractmethod
    async def close(self, session_id: str) -> bool:
        """Forget the session; False when there was none."""

    @abstractmethod
    def __len__(self) -> int:
        """Sessions open (for a shared store: across replicas, as last reported)."""

    @abstractmethod
    async def expire_forever(self) -> None:
        """Drop idle sessions until cancelled (a store that expires them itself returns)."""


class LocalSessions(SessionStore):
    """Sessions in this process's memory: the state is the object the tools change."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._sessions: dict[str, Session] = {}
        self.expired_total = 0

    def __len__(self) -> int:
        return len(self._sessions)

    async def open(self, task: Any, state: Any) -> Session:
        session = Session(id=new_session_id(), task=task, state=state)
        self._sessions[session.id] = session
        return session

    async def get(self, session_id: str) -> Session:
        try:
            session = self._sessions[session_id]
        except KeyError:
            raise UnknownSession(session_id) from None
        session.touched = time.monotonic()
        return session

    async def take(self, session_id: str) -> Session:
        try:
            return self._sessions.pop(session_id)
        except KeyError:
            raise UnknownSession(session_id) from None

    async def save(self, session: Session) -> None:
        """Nothing to do: the tools changed the session's own state object."""

    async def close(self, session_id: str) -> bool:
        return self._sessions.pop(session_id, None) is not None

    def expire(self, now: float | None = None) -> int:
        """Drop sessions idle longer than the TTL; return how many."""
        cutoff = (time.monotonic() if now is None else now) - self.ttl_s
        stale = [sid for sid, session in self._sessions.items() if session.touched < cutoff]
        for session_id in stale:
            del self._sessions[session_id]
        self.expired_total += len(stale)
        return len(stale)

    async def expire_forever(self) -> None:
        """Sweep at a fraction of the TTL until cancelled."""
        while True:
            await asyncio.sleep(sweep_interval(self.ttl_s))
            self.expire()
