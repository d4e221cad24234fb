"""Calendar task rows: ours, with their requests, and the peer's `exp_cal_state` rows."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from environments.calendar.checks import check, read_calendar
from environments.calendar.schedule import After, At, Before, Between, Entry, WorkingHours
from environments.calendar.solver import solve
from environments.calendar.task import CalendarTask, parse_constraint
from gym_core.protocol import Task
from tests.gym_core.test_protocol import peer_rows_file

PEER_ROWS = peer_rows_file("calendar")


def peer_rows() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in PEER_ROWS.read_bytes().splitlines()]


def peer_task(row: dict[str, Any]) -> CalendarTask:
    """The row as the resources server sees it, after the protocol's NeMo conversion."""
    return CalendarTask.model_validate(Task.model_validate({**row, "env": "calendar"}).model_dump())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("between 10am and 11:45am", Between(event_id=3, start="10:00", end="11:45")),
        ("before 1:45pm", Before(event_id=3, time="13:45")),
        ("after 2:15pm", After(event_id=3, time="14:15")),
        ("at 11:15am", At(event_id=3, time="11:15")),
        ("at 1pm", At(event_id=3, time="13:00")),
        (
            "between 10:00\u202fam and 12:45\u202fpm",
            Between(event_id=3, start="10:00", end="12:45"),
        ),
        ("Before 3:45\u00a0PM", Before(event_id=3, time="15:45")),
        ("at or after 10 a.m.", After(event_id=3, time="10:00")),
        ("by noon", Before(event_id=3, time="12:00")),
        ("from 9:30 to 11:00", Between(event_id=3, start="09:30", end="11:00")),
    ],
)
def test_constraints_in_words(text: str, expected: Any) -> None:
    assert parse_constraint(3, text) == expected


@pytest.mark.parametrize("text", ["sometime soon", "before lunch", "between 10am"])
def test_unreadable_constraints_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="time of day|cannot read"):
        parse_constraint(0, text)


def test_every_peer_row_converts_and_has_a_schedule() -> None:
    for row in peer_rows():
        task = peer_task(row)
        state = row["exp_cal_state"]
        assert [event.event_id for event in task.events] == [int(key) for key in state]
        assert [event.duration for event in task.events] == [v["duration"] for v in state.values()]
        assert len(task.constraints) == sum(1 for v in state.values() if v["constraint"])
        assert task.working_hours == WorkingHours(start="10:00", end="16:00")
        requirements = task.requirements(WorkingHours())
        starts = solve(requirements)
        assert starts is not None
        entries = [Entry(event_id=i, start=s, duration=requirements.event(i).duration)
                   for i, s in starts.items()]  # fmt: skip
        assert check(entries, requirements).passed


def test_the_first_peer_row_reads_as_its_words_say() -> None:
    task = peer_task(peer_rows()[0])
    assert task.constraints == [
        Between(event_id=0, start="10:00", end="11:45"),
        Before(event_id=1, time="13:45"),
    ]
    assert task.requests == []
    # The conversation's own last calendar already meets the final requirements.
    last = next(m for m in reversed(task_prompt(peer_rows()[0])) if m["role"] == "assistant")
    assert check(read_calendar(last["content"]), task.requirements(WorkingHours())).passed


def task_prompt(row: dict[str, Any]) -> list[dict[str, Any]]:
    return row["responses_create_params"]["input"]


def test_a_peer_constraint_that_cannot_be_read_names_the_event() -> None:
    row = peer_rows()[0]
    row["exp_cal_state"]["1"]["constraint"] = "whenever suits"
    with pytest.raises(ValidationError, match=r"exp_cal_state\.1\.constraint: cannot read"):
        CalendarTask.model_validate({**row, "id": "x"})


OUR_ROW: dict[str, Any] = {
    "id": "ours",
    "events": [{"event_id": 0, "event_name": "Standup", "duration": 30}],
    "constraints": [{"kind": "at", "event_id": 0, "time": "11:00"}],
    "requests": [
        {"op": "add", "text": "Add Standup", "event": {"event_id": 0, "event_name": "Standup",
                                                        "duration": 30}},
        {"op": "constrain", "text": "At 10", "constraint": {"kind": "at", "event_id": 0,
                                                             "time": "10:00"}},
        {"op": "chat", "text": "Thanks"},
        {"op": "constrain", "text": "No, at 11", "constraint": {"kind": "at", "event_id": 0,
                                                                 "time": "11:00"}},
    ],
}  # fmt: skip


def test_a_later_time_constraint_replaces_the_earlier_one() -> None:
    task = CalendarTask.model_validate(OUR_ROW)
    hours = WorkingHours()
    assert task.requirements_after(1, hours).constraints == ()
    assert task.requirements_after(2, hours).constraints == (At(event_id=0, time="10:00"),)
    assert task.requirements_after(4, hours).constraints == (At(event_id=0, time="11:00"),)
    assert task.working_hours is None
    assert task.requirements(WorkingHours(start="09:00", end="17:00")).hours.start == 540


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"constraints": []}, "differ from what the requests add up to"),
        (
            {"constraints": [{"kind": "at", "event_id": 5, "time": "11:00"}], "requests": []},
            "no event 5 to constrain",
        ),
        (
            {"requests": [{"op": "cancel", "text": "drop it", "event_id": 0}]},
            "requests.0: there is no event 0",
        ),
        ({"constraints": [{"kind": "soon", "event_id": 0}]}, "does not match any of the expected"),
        ({"working_hours": {"start": "16:00", "end": "10:00"}}, "start must come before end"),
    ],
)
def test_rows_that_do_not_add_up_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CalendarTask.model_validate({**OUR_ROW, **change})
