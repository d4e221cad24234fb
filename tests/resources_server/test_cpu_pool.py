"""The CPU worker pool: budgets in CPU time, not wall time; no input takes it down."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from resources_server.cpu_pool import CallFailed, CpuPool, CpuTimeExceeded, WorkerLost
from tests.fixtures.echo_env import spin


def divide(a: int, b: int) -> float:
    return a / b


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def swallow_everything(seconds: float) -> str:
    """Library code that catches Exception must not hide a spent budget."""
    try:
        spin(seconds)
    except Exception:
        return "swallowed"
    return "finished"


def swallow_even_the_budget(seconds: float) -> str:
    """A bare `except:` (some scorers have one) catches the budget's exception too."""
    try:
        spin(seconds)
    except BaseException:
        return "swallowed"
    return "finished"


def sleep_wall(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


@pytest.fixture
async def pool() -> CpuPool:
    pool = CpuPool(2, cpu_limit_s=0.5)
    yield pool
    await pool.close()


async def test_results_and_exceptions_come_back(pool: CpuPool) -> None:
    assert await pool.run(divide, 1, 4) == 0.25
    with pytest.raises(CallFailed, match="ZeroDivisionError: division by zero"):
        await pool.run(divide, 1, 0)
    assert await pool.run(divide, 3, 4) == 0.75


async def test_the_budget_counts_cpu_time(pool: CpuPool) -> None:
    with pytest.raises(CpuTimeExceeded, match="CPU budget of 0.5s"):
        await pool.run(spin, 5.0)
    assert await pool.run(swallow_everything, 0.1) == "finished"
    with pytest.raises(CpuTimeExceeded):
        await pool.run(swallow_everything, 5.0)
    with pytest.raises(CpuTimeExceeded):
        await pool.run(swallow_even_the_budget, 5.0)
    assert await pool.run(swallow_even_the_budget, 0.1) == "finished"


async def test_waiting_is_not_work(pool: CpuPool) -> None:
    """Sleeping (or queueing behind a busy core) spends no CPU time, so it is not cut short."""
    assert await pool.run(sleep_wall, 1.0) == "slept"


async def test_a_busy_machine_does_not_change_the_outcome() -> None:
    pool = CpuPool(4, cpu_limit_s=0.6)
    try:
        # Four workers each needing 0.4s of CPU on two cores: each waits for a core for about as
        # long as it computes, yet none exceeds its CPU budget.
        results = await asyncio.gather(*(pool.run(spin, 0.4) for _ in range(8)))
        assert all(0.4 <= used < 0.6 for used in results)
    finally:
        await pool.close()


async def test_a_dead_worker_is_replaced(pool: CpuPool) -> None:
    with pytest.raises(WorkerLost):
        await pool.run(die)
    assert await pool.run(divide, 1, 2) == 0.5
    assert await pool.run(divide, 1, 2) == 0.5


def echo_after(value: int, seconds: float) -> int:
    time.sleep(seconds)
    return value


async def test_an_abandoned_call_never_answers_another(pool: CpuPool) -> None:
    """Calls cancelled mid-flight (a client that hung up) leave no late answer behind."""
    calls = [
        asyncio.ensure_future(pool.run(echo_after, value, 0.05 + 0.01 * (value % 5)))
        for value in range(40)
    ]
    for step in range(0, 40, 3):  # cancel some while they run, others while they wait
        await asyncio.sleep(0.02)
        calls[step].cancel()
    finished = await asyncio.gather(*calls, return_exceptions=True)
    for value, result in enumerate(finished):
        assert isinstance(result, asyncio.CancelledError) or result == value
    assert [await pool.run(echo_after, value, 0) for value in range(6)] == list(range(6))
    assert len(pool._workers) == pool.size


async def test_a_call_that_times_out_in_its_caller_leaves_a_clean_pool(pool: CpuPool) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pool.run(echo_after, 1, 0.5), 0.1)
    assert await asyncio.gather(pool.run(echo_after, 2, 0.6), pool.run(echo_after, 3, 0)) == [2, 3]


async def test_a_call_cancelled_while_the_pool_starts_leaves_it_working(pool: CpuPool) -> None:
    """A client that hangs up during the workers' start must not stop the start for everyone."""
    first = asyncio.ensure_future(pool.run(echo_after, 1, 0))
    await asyncio.sleep(0.05)  # the workers are still starting
    first.cancel()
    assert await pool.run(echo_after, 2, 0) == 2
