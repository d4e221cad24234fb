"""When to restart a service that died, and when to give up on it.

A service that dies is restarted after a backoff that doubles with each fast failure in a
row (one within `fast_failure_s` of its start), up to `max_backoff_s`; one that ran longer
than that is restarted after the first backoff again. After `max_fast_failures` fast failures
in a row the service is crash-looping, and restarting it again would only hide that: the
launcher gives up, with a message naming it. The decisions are kept apart from the processes
so that they can be checked without killing any.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from gym_core.errors import GymError
from gym_core.settings import RestartPolicy

__all__ = ["CrashLoop", "Supervisor", "describe_exit"]


class CrashLoop(GymError):
    """A service kept dying soon after each start: restarting it is given up."""


@dataclass
class _Record:
    restarts: int = 0
    fast_failures: int = 0


class Supervisor:
    """Counts each service's deaths and restarts; says how long to wait before the next."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self._records: dict[str, _Record] = {}

    def restarts(self, name: str) -> int:
        """How many times `name` has been restarted."""
        return self._records.get(name, _Record()).restarts

    def died(self, name: str, code: int, ran_s: float) -> float:
        """Record that `name` ended with `code` after running `ran_s` seconds; the seconds to
        wait before restarting it. Raises `CrashLoop` when it is given up."""
        record = self._records.setdefault(name, _Record())
        fast = ran_s < self.policy.fast_failure_s
        record.fast_failures = record.fast_failures + 1 if fast else 0
        if record.fast_failures >= self.policy.max_fast_failures:
            raise CrashLoop(
                f"service {name!r} keeps dying: it {describe_exit(code)} within "
                f"{self.policy.fast_failure_s:g}s of starting {record.fast_failures} times in "
                f"a row (its messages are above); stopping the others"
            )
        record.restarts += 1
        doublings = max(0, record.fast_failures - 1)
        return float(min(self.policy.max_backoff_s, self.policy.backoff_s * 2**doublings))


def describe_exit(code: int) -> str:
    """`exited with code 1`, or `was killed by SIGKILL` for a process a signal ended."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"
