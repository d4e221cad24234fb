"""Questions over a small SQLite database, answered with one query and graded by running it
(see README.md, Grading)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field

from environments.text_to_sql.execution import compare, run_query
from resources_server import ResourcesServer, TaskFields, ToolError, Trajectory, Verdict

__all__ = ["TextToSqlServer", "TextToSqlTask", "extract_sql"]

_FENCE = re.compile(r"```[ \t]*(?:sql|sqlite)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_BARE = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
Text = Annotated[str, Field(min_length=1, max_length=1_000_000)]


class TextToSqlTask(TaskFields):
    database: Text
    """The SQL script that makes the task's database (tables and rows)."""
    gold_sql: Text
    """A query whose result is the answer."""
    ordered: bool = False
    """True when the question asks for an order: the rows must then come in the gold order."""


def extract_sql(text: str) -> str | None:
    """The query of an answer: its last ```sql block, else the whole answer when it is a
    bare SELECT; None when there is neither."""
    blocks = _FENCE.findall(text)
    query = blocks[-1] if blocks else (text if _BARE.match(text) else None)
    if query is None:
        return None
    query = query.strip().rstrip(";").strip()
    return query or None


class TextToSqlServer(ResourcesServer[TextToSqlTask, Any]):
    """Reward 1 when the answer's query returns the gold query's rows, else 0."""

    task_model = TextToSqlTask
    cpu_preload = ("environments.text_to_sql.execution",)

    async def seed(self, task: TextToSqlTask) -> Any:
        """The gold result, once per session; a gold query that does not run is the task's
        fault (422 naming `task.gold_sql`)."""
        kind, gold = await self.run_cpu(run_query, task.database, task.gold_sql)
        if kind != "ok":
            raise ToolError(f"task.gold_sql: {kind}: {gold}")
        return gold

    async def verify(self, task: TextToSqlTask, trajectory: Trajectory, state: Any) -> Verdict:
        query = extract_sql(trajectory.final_text)
        if query is None:
            return Verdict(reward=0.0, metrics={"sql_check": "no_sql"})
        kind, rows = await self.run_cpu(run_query, task.database, query)
        metrics: dict[str, Any] = {"sql_check": kind, "extracted_sql": query[:2000]}
        if kind != "ok":
            metrics["error"] = str(rows)[:500]
            return Verdict(reward=0.0, metrics=metrics)
        same = compare(state, rows, ordered=task.ordered)
        metrics |= {"sql_check": "match" if same else "different", "rows": len(rows)}
        return Verdict(reward=float(same), metrics=metrics)
