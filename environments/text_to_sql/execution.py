"""Running a query against a task's database, read-only and bounded, and comparing results.

Runs in the resources server's CPU workers. Every query gets a fresh in-memory database built
from the task's script, so nothing a query does reaches another. An authorizer allows reading
and nothing else (no writes, no ATTACH, no PRAGMA); a progress handler stops a query after
`MAX_STEPS` virtual-machine steps, a count of the query's own work (a busy machine does not
change it, a wall-clock limit would); at most `MAX_ROWS` rows are read.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

__all__ = ["MAX_ROWS", "MAX_STEPS", "QueryResult", "compare", "run_query"]

MAX_STEPS = 5_000_000
"""Virtual-machine steps a query may take (about a second of work on this machine)."""
MAX_ROWS = 10_000
MAX_LENGTH = 1_000_000
"""The longest string or blob a query may make (`randomblob(1e9)` is refused)."""
PROGRESS_EVERY = 1_000
_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION}
_RECURSIVE = getattr(sqlite3, "SQLITE_RECURSIVE", 33)

QueryResult = tuple[str, list[tuple[Any, ...]] | str]
"""(`ok`, rows), or (`error` | `refused` | `too_slow` | `too_many_rows`, why)."""


def run_query(script: str, query: str) -> QueryResult:
    """Run `query` on a new database made by `script`."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.executescript(script)
        steps = [0]

        def progress() -> int:
            steps[0] += PROGRESS_EVERY
            return 1 if steps[0] > MAX_STEPS else 0

        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_LENGTH)
        connection.set_authorizer(_authorize)
        connection.set_progress_handler(progress, PROGRESS_EVERY)
        try:
            cursor = connection.execute(query)
            rows = cursor.fetchmany(MAX_ROWS + 1)
        except sqlite3.DatabaseError as error:
            if steps[0] > MAX_STEPS:
                return "too_slow", f"stopped after {MAX_STEPS:,} steps"
            kind = "refused" if "not authorized" in str(error) else "error"
            return kind, str(error)
        except (sqlite3.Warning, sqlite3.ProgrammingError, ValueError) as error:
            return "error", str(error)
        if len(rows) > MAX_ROWS:
            return "too_many_rows", f"more than {MAX_ROWS:,} rows"
        return "ok", [tuple(row) for row in rows]
    finally:
        connection.close()


def compare(gold: list[tuple[Any, ...]], answer: list[tuple[Any, ...]], *, ordered: bool) -> bool:
    """Equal results: the same rows, as a multiset, or in the same order when `ordered`."""
    left, right = [_row(row) for row in gold], [_row(row) for row in answer]
    return left == right if ordered else Counter(left) == Counter(right)


def _row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Numbers compared by value to 6 decimals (`2`, `2.0` and `2.0000001` are one)."""
    return tuple(
        round(float(v), 6) if isinstance(v, int | float) and not isinstance(v, bool) else v
        for v in row
    )


def _authorize(action: int, *_: Any) -> int:
    return sqlite3.SQLITE_OK if action in _ALLOWED or action == _RECURSIVE else sqlite3.SQLITE_DENY
