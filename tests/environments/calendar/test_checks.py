"""Reading the model's calendar, and each check failing on its own."""

from __future__ import annotations

import json
from typing import Any

import pytest

from environments.calendar.checks import CHECKS, check, read_calendar
from environments.calendar.schedule import (
    After,
    Between,
    Entry,
    Event,
    Order,
    Requirements,
)

REQUIREMENTS = Requirements(
    events=(
        Event(event_id=0, event_name="Standup", duration=60),
        Event(event_id=1, event_name="Review", duration=30),
        Event(event_id=2, event_name="Demo", duration=45),
    ),
    constraints=(
        Between(event_id=0, start="10:00", end="12:00"),
        After(event_id=1, time="13:00"),
        Order(first=0, then=2),
    ),
)
RIGHT = [(0, "10:00", 60), (1, "13:00", 30), (2, "14:00", 45)]


def printed(rows: list[tuple[int, str, int]]) -> str:
    names = {0: "Standup", 1: "Review", 2: "Demo"}
    return json.dumps(
        [
            {"event_id": i, "event_name": names.get(i, "Extra"), "start_time": t, "duration": d}
            for i, t, d in rows
        ]
    )


def test_the_right_calendar_passes_every_check() -> None:
    report = check(read_calendar(printed(RIGHT)), REQUIREMENTS)
    assert report.passed
    assert report.components() == dict.fromkeys(CHECKS, 1.0)
    assert report.metrics() == {
        "checks_failed": [],
        "constraints_satisfied": 1.0,
        "events_found": 3,
    }


@pytest.mark.parametrize(
    ("rows", "failed", "fraction"),
    [
        ([*RIGHT, (3, "15:00", 30)], ("event_count",), 1.0),
        ([(0, "10:00", 60), (1, "13:00", 30), (2, "13:15", 45)], ("no_overlap",), 1.0),
        ([(0, "10:00", 60), (1, "13:00", 45), (2, "14:00", 45)], ("durations",), 1.0),
        ([(0, "10:00", 60), (1, "13:00", 30), (2, "15:30", 45)], ("working_hours",), 1.0),
        ([(0, "10:00", 60), (1, "12:00", 30), (2, "14:00", 45)], ("constraints",), 2 / 3),
        ([(0, "11:30", 60), (1, "13:00", 30), (2, "14:00", 45)], ("constraints",), 2 / 3),
        ([(0, "11:00", 60), (1, "13:00", 30), (2, "10:00", 45)], ("constraints",), 2 / 3),
        (
            [(0, "10:00", 60), (1, "13:00", 30), (1, "14:00", 30)],
            ("event_count", "durations", "constraints"),
            2 / 3,
        ),
    ],
)
def test_each_check_fails_on_its_own(
    rows: list[tuple[int, str, int]], failed: tuple[str, ...], fraction: float
) -> None:
    report = check(read_calendar(printed(rows)), REQUIREMENTS)
    assert report.failed == failed
    assert not report.passed
    assert report.constraint_fraction == pytest.approx(fraction)
    assert report.components() == {name: float(name not in failed) for name in CHECKS}


def test_no_calendar_fails_parsing_and_scores_nothing() -> None:
    report = check(read_calendar("Sorry, I cannot help with that."), REQUIREMENTS)
    assert report.failed == ("parsed",)
    assert report.constraint_fraction == 0.0
    assert report.components()["parsed"] == 0.0


def test_a_calendar_without_constraints_to_meet_has_fraction_one() -> None:
    bare = Requirements(events=(Event(event_id=0, duration=30),))
    report = check(read_calendar('[{"event_id": 0, "start_time": "10:00", "duration": 30}]'), bare)
    assert report.passed
    assert report.constraint_fraction == 1.0


def entry(event_id: int, start: int, duration: int, name: str = "") -> Entry:
    return Entry(event_id=event_id, event_name=name, start=start, duration=duration)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"event_id": 0, "start_time": "10:00", "duration": 30}]', [entry(0, 600, 30)]),
        (
            'Done! Here is your calendar:\n```json\n[{"event_id": 0, "event_name": "A", '
            '"start_time": "9:30", "duration": 30}]\n```\nAnything else?',
            [entry(0, 570, 30, "A")],
        ),
        (
            'Before: [{"event_id": 0, "start_time": "10:00", "duration": 30}]\n'
            'After: [{"event_id": 0, "start_time": "11:00", "duration": 30}]',
            [entry(0, 660, 30)],
        ),
        (
            '{"calendar": [{"event_id": "2", "start_time": "12:00", "duration": 45.0}]}',
            [entry(2, 720, 45)],
        ),
        ("The calendar is empty: []", []),
        (
            '[{"event_id": 0, "start_time": "10:00", "duration": 30}] and the list [1, 2]',
            [entry(0, 600, 30)],
        ),
        ("no calendar here", None),
        ('[{"event_id": 0, "start_time": "10am", "duration": 30}]', None),
        ('[{"event_id": 0, "start_time": "10:00"}]', None),
        ('[{"event_id": 0, "start_time": "10:00", "duration": 30.5}]', None),
        ('[{"event_id": true, "start_time": "10:00", "duration": 30}]', None),
        ('[{"event_id": 0, "start_time": "10:00", "duration": 30}', None),
    ],
)
def test_reading_the_calendar_tolerates_prose_but_not_bad_fields(
    text: str, expected: list[Any] | None
) -> None:
    assert read_calendar(text) == expected
