"""The policy gateway's gate: the policy version, and a pause that holds new generations while
weights change.

With a state file, the version and the pause outlive the process: a gateway restarted by its
supervisor resumes under the version the trainer last set, still paused if the trainer was
syncing weights, so no turn records version 0 or runs on half-loaded weights after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import BaseModel, ValidationError

from gym_core.protocol import PolicyVersion

__all__ = ["Gate", "GateState"]

log = logging.getLogger("rl_gym.policy")


class GateState(BaseModel):
    """What a restarted gateway takes over from the one before it."""

    version: PolicyVersion = 0
    paused: bool = False
    lifts_at: float | None = None
    """Wall-clock time (`time.time()`) at which a pause with a deadline lifts itself."""


class Gate:
    """The policy version, and a pause that holds new generations while weights change.

    It keeps a pause clock (`paused_total_s`): callers that time a generation subtract the
    time the policy spent paused, so a long weight sync times out nothing. A pause may carry a
    deadline, after which it lifts itself.
    """

    def __init__(self, state_file: Path | None = None) -> None:
        self._state_file = state_file
        self._version = 0
        self.running = 0
        self._open = asyncio.Event()
        self._open.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._paused_before_s = 0.0
        self._paused_since: float | None = None
        self._lift: asyncio.TimerHandle | None = None
        self._lifts_at: float | None = None

    @property
    def version(self) -> int:
        return self._version

    @version.setter
    def version(self, version: int) -> None:
        self._version = version
        self._save()

    @property
    def paused(self) -> bool:
        return not self._open.is_set()

    @property
    def paused_total_s(self) -> float:
        running = 0.0 if self._paused_since is None else time.monotonic() - self._paused_since
        return self._paused_before_s + running

    @asynccontextmanager
    async def generation(self) -> AsyncIterator[int]:
        """Wait while paused, then hold the gate for one generation; yields its version."""
        await self._open.wait()
        self.running += 1
        self._idle.clear()
        try:
            yield self._version
        finally:
            self.running -= 1
            if not self.running:
                self._idle.set()

    @property
    def lifts_in_s(self) -> float | None:
        """Seconds until the pause lifts itself; None when it has no deadline."""
        if self._lift is None:
            return None
        return max(0.0, self._lift.when() - asyncio.get_running_loop().time())

    async def pause(self, timeout_s: float, deadline_s: float | None = None) -> None:
        """Close the gate (until `deadline_s` when given), and return once running
        generations finish (or `timeout_s` runs out)."""
        self._close(deadline_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)

    def _close(self, deadline_s: float | None) -> None:
        if self._paused_since is None:
            self._paused_since = time.monotonic()
        self._open.clear()
        self._cancel_deadline()
        if deadline_s is not None:
            loop = asyncio.get_running_loop()
            self._lift = loop.call_later(deadline_s, self._deadline_passed, deadline_s)
            self._lifts_at = time.time() + deadline_s
        self._save()

    def _deadline_passed(self, deadline_s: float) -> None:
        self._lift = None
        log.warning(
            "the pause reached its deadline (%gs) without a resume: generation goes on under "
            "policy version %d",
            deadline_s,
            self._version,
        )
        self.resume()

    def _cancel_deadline(self) -> None:
        if self._lift is not None:
            self._lift.cancel()
            self._lift = None
        self._lifts_at = None

    def resume(self) -> None:
        self._cancel_deadline()
        if self._paused_since is not None:
            self._paused_before_s += time.monotonic() - self._paused_since
            self._paused_since = None
        self._open.set()
        self._save()

    def restore(self) -> None:
        """Take over the state a gateway before this one left. Call with the loop running."""
        if self._state_file is None or not self._state_file.is_file():
            return
        try:
            state = GateState.model_validate_json(self._state_file.read_bytes())
        except (OSError, ValidationError) as error:
            log.warning("ignoring the policy state in %s: %s", self._state_file, error)
            return
        self._version = state.version
        if not state.paused:
            return
        deadline_s = None if state.lifts_at is None else state.lifts_at - time.time()
        if deadline_s is not None and deadline_s <= 0:
            log.warning("the pause left by the gateway before this one has passed its deadline")
            self._save()
            return
        self._close(deadline_s)
        log.warning(
            "resuming the state the gateway before this one left: policy version %d, paused",
            self._version,
        )

    def _save(self) -> None:
        """Write the state atomically: a crash mid-write leaves the previous state."""
        if self._state_file is None:
            return
        state = GateState(version=self._version, paused=self.paused, lifts_at=self._lifts_at)
        partial = self._state_file.with_name(self._state_file.name + ".partial")
        partial.write_text(state.model_dump_json())
        os.replace(partial, self._state_file)
