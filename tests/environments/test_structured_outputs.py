"""The structured_outputs environment: reading the output as text or as a tool call, strict
validation with the failing path, one validator per schema, refusing bad rows, the bundled
tasks, and the service over loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from environments.structured_outputs.generate import (
    CHEATS,
    SOLUTIONS,
    TASKS,
    cheats,
    near_miss,
    reference,
    task_set,
)
from environments.structured_outputs.grading import Answer, Outcome, grade, validator
from gym_core.errors import ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.hub.solutions import Solution, cheats_jsonl, solutions_jsonl
from gym_core.settings import ResourcesServerSettings
from tests.conftest import resources_server

SCHEMA = orjson.dumps(
    {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "cast": {"type": "array", "items": {"type": "object", "properties": {"n": {}}}},
        },
    }
).decode()
GOOD = {"name": "Up", "cast": [{"n": 1}]}


def text(answer: str, schema_type: str = "json") -> Outcome:
    return grade(Answer(answer, []), SCHEMA, schema_type, "text", None, None)  # type: ignore[arg-type]


def called(calls: list[tuple[str, Any]], key: str | None = None) -> Outcome:
    raw = [(name, a if isinstance(a, str) else orjson.dumps(a).decode()) for name, a in calls]
    return grade(Answer("", raw), SCHEMA, "json", "tool_call", "record", key)


def test_text_answers_parse_whole_or_in_one_fence() -> None:
    assert text(orjson.dumps(GOOD).decode()).check == "valid"
    assert text(f"```json\n{orjson.dumps(GOOD).decode()}\n```").check == "valid"
    assert text("name: Up\ncast:\n  - n: 1\n", "yaml").check == "valid"
    assert text(f"Sure: {orjson.dumps(GOOD).decode()}").check == "parse_error"
    assert text("   ").check == "no_output"


def test_the_schema_is_strict_and_the_failing_path_is_reported() -> None:
    missing = text('{"name": "Up"}')
    extra = text('{"name": "Up", "cast": [], "year": 2009}')
    deep = text('{"name": "Up", "cast": [{"n": 1}, {"n": 2, "m": 3}]}')
    assert (missing.check, missing.path) == ("validation_error", "$")
    assert "'cast' is a required property" in (missing.message or "")
    assert "'year' was unexpected" in (extra.message or "")
    assert deep.path == "$.cast[1]"


def test_a_tool_answer_is_one_call_to_the_named_tool() -> None:
    assert called([("record", GOOD)]).check == "valid"
    assert called([("record", {"extraction": GOOD})], "extraction").check == "valid"
    assert called([("record", GOOD)], "extraction").check == "missing_payload_key"
    assert called([("record", {"extraction": GOOD, "data": {}})], "extraction").check == (
        "extra_payload_keys"
    )
    assert called([("record", GOOD), ("other", GOOD)]).check == "wrong_tool"
    assert called([("other", GOOD)]).check == "wrong_tool"
    assert called([("record", GOOD), ("record", GOOD)]).check == "several_calls"
    assert called([("record", '{"name": ')]).check == "parse_error"
    assert called([]).check == "no_tool_call"


def test_each_schema_gets_one_validator() -> None:
    assert validator(SCHEMA) is validator(SCHEMA)


def test_the_bundled_files_are_what_the_generator_writes() -> None:
    tasks = task_set()
    assert TASKS.read_text().count("\n") == len(tasks) == 240
    made = [
        Solution(id=row["id"], reference=reference(row, rec), wrong=reference(row, near_miss(rec)))
        for row, rec in tasks
    ]
    assert SOLUTIONS.read_bytes() == solutions_jsonl(made)
    assert CHEATS.read_bytes() == cheats_jsonl(cheats(tasks))
    modes = {(row["difficulty"], row["response_mode"], row["schema_type"]) for row, _ in tasks}
    assert ("easy", "text", "json") in modes
    assert ("medium", "text", "yaml") in modes
    assert ("hard", "tool_call", "json") in modes


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = ResourcesServerSettings(
        name="structured_outputs",
        server="environments.structured_outputs.server:StructuredOutputsServer",
        cpu_workers=1,
    )
    with resources_server(settings) as url:
        yield url


TASK: dict[str, Any] = {"id": "t", "env": "structured_outputs", "prompt": "?", "schema_str": SCHEMA}


async def verify(url: str, task: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    async with HttpClient() as http:
        session = (await http.post(f"{url}/sessions", {"task": task}))["session_id"]
        messages = [{"role": "assistant", **message}]
        return await http.post(f"{url}/sessions/{session}/verify", {"messages": messages})


async def test_the_service_scores_text_and_calls_with_the_error_path(url: str) -> None:
    right = await verify(url, TASK, {"content": orjson.dumps(GOOD).decode()})
    wrong = await verify(url, TASK, {"content": '{"name": 3, "cast": []}'})
    tool_task = {**TASK, "response_mode": "tool_call", "tool_name": "record"}
    call = {"id": "c", "function": {"name": "record", "arguments": orjson.dumps(GOOD).decode()}}
    by_call = await verify(url, tool_task, {"content": None, "tool_calls": [call]})
    assert right["reward"] == 1.0
    assert right["metrics"]["output_check"] == "valid"
    assert wrong["reward"] == 0.0
    assert wrong["metrics"] == {
        "output_check": "validation_error",
        "error_path": "$.name",
        "error": "3 is not of type 'string'",
        "response_mode": "text",
    }
    assert by_call["reward"] == 1.0


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"schema_str": "{not json"}, "task.schema_str: not JSON"),
        ({"schema_str": '{"type": "objekt"}'}, "task.schema_str: not a valid JSON Schema"),
        ({"schema_str": "[1]"}, "a JSON Schema is an object, not list"),
        ({"response_mode": "tool_call"}, "tool_name is required when response_mode is tool_call"),
        ({"schema_type": "xml"}, "schema_type"),
    ],
)
async def test_a_bad_row_is_refused_naming_the_field(
    url: str, change: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ServiceRejected, match=re.escape(problem)):
        await verify(url, {**TASK, **change}, {"content": "{}"})
