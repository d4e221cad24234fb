"""Renderings shared by the requests that ask for the same one: rendered once while in
flight, kept within a bound, never kept when the engine failed."""

from __future__ import annotations

import asyncio

import pytest

from policy_clients.renderings import Renderings


class Engine:
    """Renders after `release` is set; counts its calls; fails while `failing`."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False
        self.release = asyncio.Event()

    async def render(self, ids: list[int]) -> list[int]:
        self.calls += 1
        await self.release.wait()
        if self.failing:
            raise ConnectionError("engine down")
        return ids


async def test_requests_for_one_rendering_share_one_engine_call() -> None:
    engine, renderings = Engine(), Renderings()
    waiting = [
        asyncio.create_task(renderings.get(b"group", lambda: engine.render([1, 2, 3])))
        for _ in range(8)
    ]
    await asyncio.sleep(0)
    engine.release.set()
    assert await asyncio.gather(*waiting) == [[1, 2, 3]] * 8
    assert await renderings.get(b"group", lambda: engine.render([9])) == [1, 2, 3]
    assert await renderings.get(b"other", lambda: engine.render([4])) == [4]
    assert engine.calls == 2


async def test_each_request_gets_its_own_list() -> None:
    engine, renderings = Engine(), Renderings()
    engine.release.set()
    first = await renderings.get(b"k", lambda: engine.render([1, 2]))
    first.append(99)
    assert await renderings.get(b"k", lambda: engine.render([0])) == [1, 2]


async def test_a_cancelled_request_leaves_the_rendering_to_the_others() -> None:
    engine, renderings = Engine(), Renderings()
    first = asyncio.create_task(renderings.get(b"k", lambda: engine.render([7])))
    second = asyncio.create_task(renderings.get(b"k", lambda: engine.render([7])))
    await asyncio.sleep(0)
    first.cancel()
    engine.release.set()
    assert await second == [7]
    with pytest.raises(asyncio.CancelledError):
        await first
    assert engine.calls == 1


async def test_a_failed_rendering_reaches_its_waiters_and_is_not_kept() -> None:
    engine, renderings = Engine(), Renderings()
    engine.failing = True
    waiting = [
        asyncio.create_task(renderings.get(b"k", lambda: engine.render([5]))) for _ in range(3)
    ]
    await asyncio.sleep(0)
    engine.release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
    engine.failing = False
    assert await renderings.get(b"k", lambda: engine.render([5])) == [5]
    assert engine.calls == 2


async def test_the_least_recently_used_go_beyond_the_bound() -> None:
    engine, renderings = Engine(), Renderings(max_ids=5)
    engine.release.set()
    for key in (b"a", b"b"):
        await renderings.get(key, lambda: engine.render([1, 2]))
    await renderings.get(b"a", lambda: engine.render([0]))  # a is now the most recent
    await renderings.get(b"c", lambda: engine.render([3, 4]))  # 6 ids held: b goes
    assert engine.calls == 3
    assert await renderings.get(b"a", lambda: engine.render([0])) == [1, 2]
    assert await renderings.get(b"b", lambda: engine.render([8])) == [8]
    await renderings.get(b"long", lambda: engine.render(list(range(6))))  # never kept
    assert await renderings.get(b"long", lambda: engine.render([6])) == [6]
