"""Per-episode state, reachable only by an unguessable id, dropped when left idle.

An agent that crashes mid-episode never calls `DELETE`; the idle timeout is what guarantees
that a long training run does not slowly fill the server's memory with abandoned sessions.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Session", "SessionStore", "UnknownSession"]

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


class SessionStore:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._sessions: dict[str, Session] = {}
        self.expired_total = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, task: Any, state: Any) -> Session:
        session = Session(id=secrets.token_urlsafe(16), task=task, state=state)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session:
        """The session, its idle clock reset. Raises `UnknownSession`."""
        try:
            session = self._sessions[session_id]
        except KeyError:
            raise UnknownSession(session_id) from None
        session.touched = time.monotonic()
        return session

    def close(self, session_id: str) -> bool:
        """Forget the session; False when there was none."""
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
        interval = min(SWEEP_INTERVAL_MAX_S, self.ttl_s / 4)
        while True:
            await asyncio.sleep(interval)
            self.expire()
