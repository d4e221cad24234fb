"""`@counted`: a workplace tool whose calls the session counts, by tool, as made or refused
(`verify` reports both in its metrics)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from environments.workplace.company import Company
from resources_server import ToolError, tool

__all__ = ["counted"]

Method = Callable[..., Awaitable[Any]]


def counted(method: Method) -> Method:
    @functools.wraps(method)
    async def run(self: Any, company: Company, **arguments: Any) -> Any:
        try:
            result = await method(self, company, **arguments)
        except ToolError:
            company.refused[method.__name__] += 1
            raise
        company.calls[method.__name__] += 1
        return result

    return tool(run)
