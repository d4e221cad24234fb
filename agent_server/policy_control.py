"""The policy as the agent server sees it: the trainer's controls, and the clocks episodes read.

A trainer steers the policy through the rollout endpoint (`/v1/policy/...`); the agent passes
each call on to the policy server's admin routes, which hold the one true state. The agent
keeps two things of its own, both read on the hot path without a network call:

- the newest policy version it knows (set through it, or seen in a turn), so an episode can
  tell it has gone stale before it asks for another turn;
- the policy's pause clock (seconds spent paused so far), refreshed at most once a second and
  only when some episode asks, so a policy call's timeout leaves out a weight sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from gym_core.errors import ServiceError
from gym_core.http_client import HttpClient
from gym_core.protocol import PausePolicy, PolicyState

__all__ = ["PAUSE_CLOCK_MAX_AGE_S", "PolicyControl"]

PAUSE_CLOCK_MAX_AGE_S = 1.0
"""How old a reading of the pause clock may be; a timeout may run this much long."""
ADMIN_TIMEOUT_S = 30.0


class PolicyControl:
    def __init__(self, http: HttpClient, policy_url: str) -> None:
        self.http = http
        self.admin_url = f"{policy_url.rstrip('/')}/admin"
        self.version = 0
        """The newest policy version this agent knows of."""
        self._paused_total_s = 0.0
        self._paused_read_at = float("-inf")
        self._reading: asyncio.Future[float] | None = None

    def saw_version(self, version: int) -> None:
        """A turn came back generated with `version`: the policy is at least there."""
        self.version = max(self.version, version)

    async def state(self) -> PolicyState:
        return self._learn(await self.http.get(f"{self.admin_url}/status"))

    async def set_version(self, version: int) -> PolicyState:
        await self._admin("policy_version", {"version": version})
        self.version = version  # a trainer may also roll a version back
        return await self.state()

    async def pause(self, request: PausePolicy) -> PolicyState:
        body = request.model_dump(exclude_none=True)
        await self._admin("pause", body, request.timeout_s + ADMIN_TIMEOUT_S)
        return await self.state()

    async def resume(self, version: int | None) -> PolicyState:
        await self._admin("resume", {"policy_version": version})
        if version is not None:
            self.version = version
        return await self.state()

    async def paused_total_s(self, *, max_age_s: float = PAUSE_CLOCK_MAX_AGE_S) -> float:
        """Seconds the policy has spent paused, read at most `max_age_s` ago.

        Concurrent callers share one reading. When the policy server cannot be asked, the last
        reading stands: a timeout is then simply not extended.
        """
        if time.monotonic() - self._paused_read_at <= max_age_s:
            return self._paused_total_s
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read_pause_clock())
        reading = self._reading
        try:
            return await asyncio.shield(reading)
        finally:
            if self._reading is reading and reading.done():
                self._reading = None

    async def _read_pause_clock(self) -> float:
        with contextlib.suppress(ServiceError):
            await self.state()
        self._paused_read_at = time.monotonic()
        return self._paused_total_s

    async def _admin(
        self, route: str, body: dict[str, Any], timeout_s: float = ADMIN_TIMEOUT_S
    ) -> None:
        await self.http.post(f"{self.admin_url}/{route}", body, timeout_s=timeout_s)

    def _learn(self, answer: Any) -> PolicyState:
        state = PolicyState.model_validate(answer)
        self._paused_total_s = state.paused_total_s
        self._paused_read_at = time.monotonic()
        self.saw_version(state.version)
        return state
