"""The loop-lag probe: a loop blocked by synchronous work shows as lag, and the probe stops
with the block that started it."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry, Gauge

from gym_core.loop_lag import watch_loop_lag

BLOCKED_S = 0.3
INTERVAL_S = 0.05


async def test_a_blocked_loop_shows_as_lag_and_the_probe_stops_after() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("lag_seconds", "the probe's reading", registry=registry)
    async with watch_loop_lag(gauge, interval_s=INTERVAL_S):
        await asyncio.sleep(2 * INTERVAL_S)
        time.sleep(BLOCKED_S)  # noqa: ASYNC251  # on purpose: a handler blocking the loop
        await asyncio.sleep(INTERVAL_S / 5)  # the probe, overdue, runs first
        lag = registry.get_sample_value("lag_seconds")
    assert lag is not None
    assert lag >= BLOCKED_S - INTERVAL_S  # it woke at least this late
    assert asyncio.all_tasks() == {asyncio.current_task()}
