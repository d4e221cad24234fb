"""The task generator: deterministic, solvable after every request, harder when asked; and
the bundled data is exactly what the documented commands make."""

from __future__ import annotations

import statistics
from typing import Any

import orjson
import pytest

from environments.calendar.checks import check, read_calendar
from environments.calendar.conversation import AddEvent
from environments.calendar.generate import (
    LEVELS,
    MAX_REQUESTS,
    generate_chat_tasks,
    generate_tasks,
    generate_tool_tasks,
)
from environments.calendar.schedule import Entry, WorkingHours
from environments.calendar.solver import solve
from environments.calendar.task import CalendarTask
from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.protocol import Task

DIFFICULTIES = list(LEVELS)


@pytest.fixture(scope="module")
def rows() -> dict[str, list[dict[str, Any]]]:
    return {difficulty: generate_chat_tasks(40, 3, difficulty) for difficulty in DIFFICULTIES}


def test_the_same_seed_gives_the_same_tasks() -> None:
    assert generate_chat_tasks(5, 11, "hard") == generate_chat_tasks(5, 11, "hard")
    assert generate_chat_tasks(5, 11, "hard") != generate_chat_tasks(5, 12, "hard")
    assert generate_chat_tasks(3, 11, "hard") == generate_chat_tasks(5, 11, "hard")[:3]


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_every_calendar_asked_for_has_a_solution(
    rows: dict[str, list[dict[str, Any]]], difficulty: str
) -> None:
    for row in rows[difficulty]:
        task = CalendarTask.model_validate({**row, "env": "calendar"})
        hours = WorkingHours()
        assert 1 <= len(task.requests) <= MAX_REQUESTS
        assert isinstance(task.requests[0], AddEvent)
        for answered in range(1, len(task.requests) + 1):
            assert solve(task.requirements_after(answered, hours)) is not None, row["id"]
        starts = solve(task.requirements(hours))
        assert starts is not None
        entries = [
            Entry(event_id=e.event_id, start=starts[e.event_id], duration=e.duration)
            for e in task.events
        ]
        assert check(entries, task.requirements(hours)).passed


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_the_bundled_solution_is_a_right_answer(
    rows: dict[str, list[dict[str, Any]]], difficulty: str
) -> None:
    for row in rows[difficulty]:
        task = CalendarTask.model_validate({**row, "env": "calendar"})
        answer = f"Here it is: {orjson.dumps(row['solution']).decode()}"
        assert check(read_calendar(answer), task.requirements(WorkingHours())).passed


def test_rows_are_tasks_with_the_rules_and_the_first_request(
    rows: dict[str, list[dict[str, Any]]],
) -> None:
    row = rows["medium"][0]
    task = Task.model_validate({**row, "env": "calendar"})
    system, user = task.messages()
    assert system.role == "system"
    assert "JSON list" in system.content
    assert "10 am to 4 pm" in system.content
    assert user.content == row["requests"][0]["text"]
    assert row["id"] == "calendar-chat-medium-3-00000"
    tools_row = generate_tool_tasks(1, 3, "medium")[0]
    assert "list_events" in tools_row["prompt"][0]["content"]
    assert tools_row["requests"] == row["requests"]


def test_harder_levels_ask_for_more(rows: dict[str, list[dict[str, Any]]]) -> None:
    def mean(difficulty: str, measure: Any) -> float:
        return statistics.mean(measure(row) for row in rows[difficulty])

    for measure in (
        lambda row: len(row["requests"]),
        lambda row: len(row["constraints"]),
        lambda row: sum(event["duration"] for event in row["events"]),
    ):
        assert mean("easy", measure) < mean("medium", measure) < mean("hard", measure)
    kinds = {request["op"] for row in rows["hard"] for request in row["requests"]}
    assert kinds == {"add", "constrain", "resize", "cancel", "chat"}
    assert {c["kind"] for row in rows["hard"] for c in row["constraints"]} == {
        "before",
        "after",
        "between",
        "at",
        "order",
    }


def test_other_working_hours_are_honoured() -> None:
    hours = WorkingHours(start="08:00", end="12:00")
    [row] = generate_tasks(1, 0, "hard", mode="chat", hours=hours)
    task = CalendarTask.model_validate({**row, "env": "calendar"})
    assert task.working_hours == hours
    assert "8 am to 12 pm" in row["prompt"][0]["content"]
    assert solve(task.requirements(WorkingHours())) is not None


def test_an_unknown_difficulty_is_refused() -> None:
    with pytest.raises(ValueError, match="difficulty must be one of easy, medium, hard"):
        generate_chat_tasks(1, 0, "brutal")


@pytest.mark.parametrize(
    ("env", "per_difficulty"),
    [("calendar", 100), ("calendar_tools", 30)],
)
def test_the_bundled_data_is_what_the_readme_commands_make(env: str, per_difficulty: int) -> None:
    """README: `gym data generate ENV --n N --seed 0 --difficulty D` for each D, concatenated."""
    entry = load_config(default_catalog_path()).envs[env]
    generate = generate_chat_tasks if env == "calendar" else generate_tool_tasks
    expected = [
        {**row, "env": env}
        for difficulty in DIFFICULTIES
        for row in generate(per_difficulty, 0, difficulty)
    ]
    bundled = [orjson.loads(line) for line in entry.example_path().read_bytes().splitlines()]
    assert len(bundled) == 3 * per_difficulty
    assert bundled == expected
