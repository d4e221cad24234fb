"""The reference solutions and cheat probes of the bundled calendar tasks: the committed files
are exactly what `python -m environments.calendar.make_solutions` writes, every calendar of a
reference is right (not only the last one), a wrong solution errs only in its last calendar,
with the mistake it is meant to have, and a cheat's calendar breaks what it is meant to."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from environments.calendar.checks import check, read_calendar
from environments.calendar.make_solutions import (
    CHEATS,
    SOLUTIONS,
    TASKS,
    TOOLS_CHEATS,
    TOOLS_SOLUTIONS,
    TOOLS_TASKS,
    cheats,
    constraints_broken,
    each_event_twice,
    near_miss,
    solutions,
    stacked,
)
from environments.calendar.schedule import After, Event, Requirements
from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.http_client import HttpClient
from gym_core.hub.player import ScriptedPlayer
from gym_core.hub.solutions import cheats_jsonl, load_solutions, solutions_jsonl, steps_of
from gym_core.settings import ResourcesServerSettings
from gym_core.tasks_file import load_tasks
from tests.conftest import resources_server

MODES = [
    ("calendar", "CalendarServer", TASKS, SOLUTIONS, False),
    ("calendar_tools", "CalendarToolsServer", TOOLS_TASKS, TOOLS_SOLUTIONS, True),
]
MISTAKE = ["no_overlap", "event_count", "durations"]
"""The check each kind of near miss fails, by `near_miss`'s `number` mod 3."""


@pytest.mark.parametrize(("env", "path", "tools"), [(m[0], m[3], m[4]) for m in MODES])
def test_the_committed_solutions_are_what_the_script_makes(
    env: str, path: Path, tools: bool
) -> None:
    assert load_config(default_catalog_path()).envs[env].solutions_path() == path
    assert path.read_bytes() == solutions_jsonl(solutions(tools=tools))


@pytest.mark.parametrize(
    ("env", "path", "tools"),
    [(m[0], p, m[4]) for m, p in zip(MODES, (CHEATS, TOOLS_CHEATS), strict=True)],
)
def test_the_committed_cheats_are_what_the_script_makes(env: str, path: Path, tools: bool) -> None:
    assert load_config(default_catalog_path()).envs[env].cheats_path() == path
    assert path.read_bytes() == cheats_jsonl(cheats(tools=tools))


TWO = (
    Event(event_id=0, event_name="A", duration=60),
    Event(event_id=1, event_name="B", duration=30),
)


def failed_checks(calendar: list[dict[str, Any]], requirements: Requirements) -> tuple[str, ...]:
    return check(read_calendar(orjson.dumps(calendar).decode()), requirements).failed


def test_each_cheat_calendar_breaks_what_it_is_meant_to() -> None:
    requirements = Requirements(events=TWO, constraints=(After(event_id=0, time=11 * 60),))
    broken = constraints_broken(requirements)
    assert broken is not None
    assert failed_checks(broken, requirements) == ("constraints",)
    assert failed_checks(stacked(requirements), requirements) == ("no_overlap", "constraints")
    right = [
        {"event_id": 1, "event_name": "B", "start_time": "10:00", "duration": 30},
        {"event_id": 0, "event_name": "A", "start_time": "11:00", "duration": 60},
    ]
    assert failed_checks(right, requirements) == ()
    assert failed_checks(each_event_twice(right), requirements) == ("event_count",)
    assert constraints_broken(Requirements(events=TWO)) is None


def test_a_near_miss_changes_only_the_last_event() -> None:
    calendar = [
        {"event_id": 3, "event_name": "A", "start_time": "10:00", "duration": 30},
        {"event_id": 1, "event_name": "B", "start_time": "11:00", "duration": 15},
    ]
    assert near_miss(calendar, 3) == [calendar[0], {**calendar[1], "start_time": "10:00"}]
    assert near_miss(calendar, 4) == calendar[:1]
    assert near_miss(calendar, 5) == [calendar[0], {**calendar[1], "duration": 30}]
    assert near_miss(calendar[::-1], 2) == [calendar[1], {**calendar[0], "duration": 15}]


def right_turns(metrics: dict[str, Any]) -> int:
    """How many of the calendars the server checked turn by turn (`respond`) were right."""
    return round(metrics["turns_correct"] * metrics["requests_answered"])


@pytest.mark.slow
@pytest.mark.parametrize(("env", "server", "tasks_path", "path"), [m[:4] for m in MODES])
def test_every_reference_calendar_is_right_and_the_wrong_one_errs_at_the_end(
    env: str, server: str, tasks_path: Path, path: Path
) -> None:
    """The server checks each calendar before the last in `respond` (the per-turn metric
    `turns_correct`), and the last one in `verify` (the reward)."""
    tasks = load_tasks(tasks_path, env=env)
    bundled = load_solutions(path)
    settings = ResourcesServerSettings(
        name=env, server=f"environments.calendar.server:{server}", cpu_workers=1
    )

    async def play_all(url: str) -> list[str]:
        problems = []
        async with HttpClient(timeout_s=30, max_retries=0) as http:
            player = ScriptedPlayer(http, url)
            for number, task in enumerate(tasks):
                solution = bundled[task.id]
                right = (await player.play(task, steps_of(solution.reference))).verdict
                wrong = (await player.play(task, steps_of(solution.wrong))).verdict
                if (right.reward, right.metrics["turns_correct"]) != (1.0, 1.0):
                    problems.append(f"{task.id} reference: {right.metrics}")
                before_last = len(task.env_fields()["requests"]) - 1
                failed = wrong.metrics["checks_failed"]
                mistaken = isinstance(failed, list) and MISTAKE[number % 3] in failed
                if (wrong.reward, right_turns(wrong.metrics), mistaken) != (0.0, before_last, True):
                    problems.append(f"{task.id} wrong: {wrong.metrics}")
        return problems

    with resources_server(settings) as url:
        assert asyncio.run(play_all(url)) == []
