"""The event loop's lag: how late a task that sleeps wakes up. A handler that blocks the loop
(CPU work, a synchronous call) delays every request of the service by as much, and shows here
long before it shows as timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from prometheus_client import Gauge

__all__ = ["LOOP_LAG_INTERVAL_S", "watch_loop_lag"]

LOOP_LAG_INTERVAL_S = 0.5
"""How often the probe wakes: two cheap wake-ups a second."""


@contextlib.asynccontextmanager
async def watch_loop_lag(
    gauge: Gauge, interval_s: float = LOOP_LAG_INTERVAL_S
) -> AsyncIterator[None]:
    """Keep `gauge` at the lag of the latest wake-up while the block runs."""
    probe = asyncio.create_task(_probe(gauge, interval_s))
    try:
        yield
    finally:
        probe.cancel()
        await asyncio.wait([probe])  # (awaiting the task itself would raise its cancellation)


async def _probe(gauge: Gauge, interval_s: float) -> None:
    while True:
        due = time.perf_counter() + interval_s  # (uvloop's own clock counts whole milliseconds)
        await asyncio.sleep(interval_s)
        gauge.set(max(0.0, time.perf_counter() - due))
