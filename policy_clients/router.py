"""Which engine replica answers a request.

- Every turn of one episode (the `X-Session-Id` header) goes to the same replica, whose prefix
  cache already holds the conversation.
- A new episode goes to the least-loaded healthy replica.
- Each replica takes at most `max_concurrency` requests at once; more wait for a slot.
- A replica that cannot be reached is taken out of rotation for a cooldown that doubles with
  each failure (capped), then tried again. The request it failed is retried on another
  replica: generation has no side effects, so when a replica dies mid-request the answer is
  simply sampled elsewhere. A request that timed out is not retried (the engine may still be
  working on it) and an engine's refusal (4xx) is passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from gym_core.errors import ServiceUnavailable
from policy_clients.engines.base import Engine

__all__ = ["NoReplica", "Replica", "Router"]

log = logging.getLogger("rl_gym.policy")

MAX_STICKY_SESSIONS = 100_000
FIRST_COOLDOWN_S = 1.0
MAX_COOLDOWN_S = 30.0
T = TypeVar("T")


class NoReplica(Exception):
    """Every replica failed this request or is out of rotation."""


class Replica:
    def __init__(self, engine: Engine, max_concurrency: int) -> None:
        self.engine = engine
        self.max_concurrency = max_concurrency
        self.in_flight = 0
        self.failures = 0
        self.down_until = 0.0
        self.started = False
        self._slots = asyncio.Semaphore(max_concurrency)
        self._start_lock = asyncio.Lock()

    @property
    def healthy(self) -> bool:
        return time.monotonic() >= self.down_until

    @property
    def load(self) -> float:
        return self.in_flight / self.max_concurrency

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Engine]:
        self.in_flight += 1
        try:
            async with self._slots:
                await self._ensure_started()
                yield self.engine
        finally:
            self.in_flight -= 1

    async def _ensure_started(self) -> None:
        if not self.started:
            async with self._start_lock:
                if not self.started:
                    await self.engine.start()
                    self.started = True

    def failed(self, error: Exception) -> None:
        self.failures += 1
        cooldown = min(MAX_COOLDOWN_S, FIRST_COOLDOWN_S * 2 ** (self.failures - 1))
        self.down_until = time.monotonic() + cooldown
        log.warning("replica %s out of rotation for %.0fs: %s", self.engine.name, cooldown, error)

    def succeeded(self) -> None:
        if self.failures:
            log.info("replica %s is back", self.engine.name)
        self.failures = 0
        self.down_until = 0.0

    def status(self) -> dict[str, Any]:
        return {
            "engine": self.engine.name,
            "healthy": self.healthy,
            "in_flight": self.in_flight,
            "failures": self.failures,
        }


class Router:
    def __init__(self, replicas: list[Replica], *, sticky_ttl_s: float) -> None:
        if not replicas:
            raise ValueError("a router needs at least one replica")
        self.replicas = replicas
        self.sticky_ttl_s = sticky_ttl_s
        self._sessions: OrderedDict[str, tuple[Replica, float]] = OrderedDict()
        self._turn = itertools.count()

    @property
    def in_flight(self) -> int:
        return sum(replica.in_flight for replica in self.replicas)

    def pick(
        self, session_id: str | None, exclude: set[Replica] | frozenset[Replica] = frozenset()
    ) -> Replica:
        """The session's replica while it is healthy, else the least-loaded healthy one."""
        if session_id is not None and session_id in self._sessions:
            replica, _ = self._sessions[session_id]
            if replica.healthy and replica not in exclude:
                return replica
        candidates = [r for r in self.replicas if r not in exclude]
        if not candidates:
            raise NoReplica("every replica failed this request")
        healthy = [r for r in candidates if r.healthy]
        if not healthy:  # all cooling down: try the one that comes back first
            return min(candidates, key=lambda r: r.down_until)
        lightest = min(r.load for r in healthy)
        tied = [r for r in healthy if r.load == lightest]
        return tied[next(self._turn) % len(tied)]

    async def call(self, session_id: str | None, operation: Callable[[Engine], Awaitable[T]]) -> T:
        """Run `operation` on a replica, failing over to others while replicas are unreachable."""
        tried: set[Replica] = set()
        while True:
            replica = self.pick(session_id, tried)
            try:
                async with replica.slot() as engine:
                    result = await operation(engine)
            except ServiceUnavailable as error:
                replica.failed(error)
                tried.add(replica)
                if len(tried) == len(self.replicas):
                    raise NoReplica(f"no replica could answer: {error}") from None
                continue
            replica.succeeded()
            self._stick(session_id, replica)
            return result

    async def stream(
        self, session_id: str | None, operation: Callable[[Engine], AsyncIterator[T]]
    ) -> AsyncIterator[T]:
        """Like `call` for a stream; it fails over only until the first item arrives."""
        tried: set[Replica] = set()
        while True:
            replica = self.pick(session_id, tried)
            started = False
            try:
                async with replica.slot() as engine:
                    async for item in operation(engine):
                        started = True
                        yield item
            except ServiceUnavailable as error:
                replica.failed(error)
                tried.add(replica)
                if started or len(tried) == len(self.replicas):
                    raise
                continue
            replica.succeeded()
            self._stick(session_id, replica)
            return

    def _stick(self, session_id: str | None, replica: Replica) -> None:
        if session_id is None:
            return
        now = time.monotonic()
        self._sessions[session_id] = (replica, now)
        self._sessions.move_to_end(session_id)
        while self._sessions:
            oldest, (_, used) = next(iter(self._sessions.items()))
            if len(self._sessions) <= MAX_STICKY_SESSIONS and now - used < self.sticky_ttl_s:
                break
            del self._sessions[oldest]
