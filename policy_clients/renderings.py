"""Chat renderings shared by the requests that ask for the same one.

A GRPO group sends one prompt N times, most of its samples at once, and the samples of a
multi-turn group often get the same tool output or user turn. Rendering a chat means a call
to the engine (its template and tokenizer), so without sharing the engine renders the same
prompt N times. Here a rendering is asked for once while it is in flight (the other requests
await it) and kept afterwards, the least recently used dropped beyond a bound on the ids
held. A rendering that fails is not kept: the next request asks the engine again.

The key is the rendering's whole input (messages, tools, generation prompt), and one cache
serves one engine, so a kept rendering is exactly what the engine would return again.
"""

from __future__ import annotations

import asyncio
from array import array
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

__all__ = ["MAX_IDS", "Renderings"]

MAX_IDS = 1_000_000
"""Token ids kept at most (8 MB): a thousand prompts of a thousand tokens."""

Render = Callable[[], Awaitable[list[int]]]


class Renderings:
    """Rendered token ids by key: each asked for once at a time, the recent ones kept."""

    def __init__(self, max_ids: int = MAX_IDS) -> None:
        self.max_ids = max_ids
        self._kept: OrderedDict[Hashable, array[int]] = OrderedDict()
        self._held = 0
        self._in_flight: dict[Hashable, asyncio.Task[array[int]]] = {}

    async def get(self, key: Hashable, render: Render) -> list[int]:
        """The ids for `key`: kept, being rendered for another request, or `render()`ed now.

        A request that is cancelled while it waits leaves the rendering running for the others.
        """
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            return kept.tolist()
        task = self._in_flight.get(key)
        if task is None:
            task = self._in_flight[key] = asyncio.create_task(self._render(key, render))
            task.add_done_callback(_retrieve)
        return (await asyncio.shield(task)).tolist()

    async def _render(self, key: Hashable, render: Render) -> array[int]:
        try:
            ids = array("q", await render())
        finally:
            del self._in_flight[key]
        self._keep(key, ids)
        return ids

    def _keep(self, key: Hashable, ids: array[int]) -> None:
        if len(ids) > self.max_ids:
            return
        self._kept[key] = ids
        self._held += len(ids)
        while self._held > self.max_ids:
            _, dropped = self._kept.popitem(last=False)
            self._held -= len(dropped)


def _retrieve(task: asyncio.Task[array[int]]) -> None:
    """Mark a failure as seen: when every waiting request was cancelled, none reads it."""
    if not task.cancelled():
        task.exception()
