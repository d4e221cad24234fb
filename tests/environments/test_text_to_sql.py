"""The text_to_sql environment: queries run read-only and bounded, results compared as the
question asks, the service end to end, and the bundled data."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from environments.text_to_sql.execution import compare, run_query
from environments.text_to_sql.make_solutions import (
    CHEATS,
    ENDLESS,
    SOLUTIONS,
    TASKS,
    bundled,
    cheats,
    solutions,
)
from environments.text_to_sql.server import extract_sql
from gym_core.errors import ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.hub.solutions import cheats_jsonl, solutions_jsonl
from gym_core.settings import ResourcesServerSettings
from tests.conftest import resources_server

SCRIPT = """\
CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL);
INSERT INTO t VALUES (1, 'a', 2.0), (2, 'b', 1.5), (3, 'c', 2.0);
"""


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("SELECT name FROM t WHERE score = 2", "ok"),
        ("DELETE FROM t", "refused"),
        ("INSERT INTO t VALUES (4, 'd', 0)", "refused"),
        ("ATTACH DATABASE ':memory:' AS other", "refused"),
        ("PRAGMA table_info(t)", "refused"),
        ("SELECT name FROM t; DELETE FROM t", "error"),
        ("SELECT nme FROM t", "error"),
        ("SELECT length(randomblob(100000000))", "error"),
        (ENDLESS, "too_slow"),
    ],
)
def test_queries_only_read_and_stop_in_bounds(query: str, kind: str) -> None:
    assert run_query(SCRIPT, query)[0] == kind


def test_results_are_multisets_unless_the_question_asks_for_an_order() -> None:
    assert compare([("a",), ("b",)], [("b",), ("a",)], ordered=False)
    assert not compare([("a",), ("b",)], [("b",), ("a",)], ordered=True)
    assert not compare([("a",), ("a",)], [("a",)], ordered=False)  # duplicates count
    assert compare([(2,)], [(2.0000000001,)], ordered=True)
    assert not compare([("a", 1)], [("a",)], ordered=False)  # an extra column is wrong


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("Here:\n```sql\nSELECT 1;\n```", "SELECT 1"),
        ("```sql\nSELECT 1\n```\nor better\n```SQL\nSELECT 2\n```", "SELECT 2"),
        ("```\nselect 3\n```", "select 3"),
        ("SELECT name FROM t;", "SELECT name FROM t"),
        ("The answer is 4.", None),
        ("```sql\n;\n```", None),
    ],
)
def test_the_query_is_the_last_block_or_a_bare_select(text: str, query: str | None) -> None:
    assert extract_sql(text) == query


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = ResourcesServerSettings(
        name="text_to_sql",
        server="environments.text_to_sql.server:TextToSqlServer",
        cpu_workers=1,
    )
    with resources_server(settings) as url:
        yield url


async def reward(http: HttpClient, url: str, task: dict[str, Any], answer: str) -> Any:
    opened = await http.post(f"{url}/sessions", {"task": {"env": "text_to_sql", **task}})
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": answer}]
    return await http.post(f"{url}/sessions/{opened['session_id']}/verify", {"messages": messages})


async def test_the_service_grades_by_running_the_query(url: str) -> None:
    task = {"id": "t", "prompt": "q", "database": SCRIPT}
    top = "SELECT name FROM t ORDER BY score DESC, name"
    async with HttpClient(timeout_s=30) as http:
        right = await reward(
            http, url, {**task, "gold_sql": top}, "```sql\nSELECT name FROM t\n```"
        )
        ordered = await reward(
            http, url, {**task, "gold_sql": top, "ordered": True}, "```sql\nSELECT name FROM t\n```"
        )
        refused = await reward(http, url, {**task, "gold_sql": top}, "```sql\nDROP TABLE t\n```")
        with pytest.raises(ServiceRejected, match="task.gold_sql"):
            await reward(http, url, {**task, "gold_sql": "SELECT nothing FROM t"}, "x")
    assert (right["reward"], right["metrics"]["sql_check"]) == (1.0, "match")
    assert (ordered["reward"], ordered["metrics"]["sql_check"]) == (0.0, "different")
    assert (refused["reward"], refused["metrics"]["sql_check"]) == (0.0, "refused")


def test_the_committed_data_is_what_the_scripts_make() -> None:
    rows = [orjson.dumps({**row, "env": "text_to_sql"}) for row, _ in bundled()]
    assert TASKS.read_bytes().splitlines() == rows
    assert SOLUTIONS.read_bytes() == solutions_jsonl(solutions())
    assert CHEATS.read_bytes() == cheats_jsonl(cheats())
    difficulties = [orjson.loads(row)["difficulty"] for row in rows]
    assert difficulties == ["easy"] * 20 + ["medium"] * 20 + ["hard"] * 20
