"""A calendar task as the resources server reads it, from our rows or NeMo Gym's.

Our rows (see README.md) carry the final requirements (`events`, `constraints`,
`working_hours`) and, for conversations, the `requests` whose texts the user sends one per
turn. NeMo Gym's rows carry `exp_cal_state` instead: per event id its duration, one
constraint in words ("between 10am and 11:45am", "before 1:45pm", "at 11:15am") and the
working day (`min_time`, `max_time`); they are converted here.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, model_validator

from environments.calendar.clock import parse_spoken
from environments.calendar.conversation import Request, replay
from environments.calendar.schedule import (
    After,
    At,
    Before,
    Between,
    Constraint,
    Event,
    Requirements,
    TimeConstraint,
    WorkingHours,
)
from resources_server import TaskFields

__all__ = ["CalendarTask", "parse_constraint"]

PEER_STATE_KEY = "exp_cal_state"


class CalendarTask(TaskFields):
    events: list[Event]
    """The events the final calendar holds (their count is the expected count)."""
    constraints: list[Constraint] = Field(default_factory=list)
    working_hours: WorkingHours | None = None
    """The working day; the server's `working_hours` setting when absent."""
    requests: list[Request] = Field(default_factory=list)
    """The conversation, one user message each; the first is the prompt's last message and
    the server sends the others, one after each assistant answer."""

    @model_validator(mode="before")
    @classmethod
    def _accept_peer_rows(cls, data: Any) -> Any:
        if isinstance(data, dict) and PEER_STATE_KEY in data and "events" not in data:
            return {**data, **fields_from_peer_state(data[PEER_STATE_KEY])}
        return data

    @model_validator(mode="after")
    def _requests_add_up(self) -> CalendarTask:
        requirements = self.requirements(self.working_hours or WorkingHours())
        if self.requests:
            replayed = replay(self.requests, requirements.hours)
            if _canonical(replayed) != _canonical(requirements):
                raise ValueError("events and constraints differ from what the requests add up to")
        return self

    def requirements(self, default_hours: WorkingHours) -> Requirements:
        """What the final calendar must satisfy."""
        return Requirements(
            events=tuple(self.events),
            constraints=tuple(self.constraints),
            hours=self.working_hours or default_hours,
        )

    def requirements_after(self, answered: int, default_hours: WorkingHours) -> Requirements:
        """What the calendar must satisfy once the first `answered` requests are handled."""
        return replay(self.requests[:answered], self.working_hours or default_hours)


def _canonical(requirements: Requirements) -> tuple[list[str], list[str]]:
    return (
        sorted(event.model_dump_json() for event in requirements.events),
        sorted(constraint.model_dump_json() for constraint in requirements.constraints),
    )


def fields_from_peer_state(state: Any) -> dict[str, Any]:
    """`events`, `constraints` and `working_hours` from a NeMo Gym `exp_cal_state`."""
    if not isinstance(state, dict):
        raise ValueError(f"{PEER_STATE_KEY} must be an object of events by id")
    events, constraints, days = [], [], []
    for key, item in state.items():
        where = f"{PEER_STATE_KEY}.{key}"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object")
        event_id = int(item.get("event_id") or key)
        events.append({"event_id": event_id, "duration": item.get("duration")})
        if item.get("constraint"):
            try:
                constraints.append(parse_constraint(event_id, str(item["constraint"])))
            except ValueError as error:
                raise ValueError(f"{where}.constraint: {error}") from None
        days.append((item.get("min_time"), item.get("max_time")))
    return {
        "events": events,
        "constraints": constraints,
        "working_hours": _one_day(days),
    }


def _one_day(days: list[tuple[Any, Any]]) -> dict[str, Any] | None:
    """The peer states the day per event; every row we know states the same day for all."""
    starts = {start for start, _ in days if start}
    ends = {end for _, end in days if end}
    if len(starts) > 1 or len(ends) > 1:
        raise ValueError(f"{PEER_STATE_KEY}: events state different working days")
    hours = {"start": next(iter(starts), None), "end": next(iter(ends), None)}
    return {key: value for key, value in hours.items() if value} or None


_PHRASES = [
    (re.compile(r"(?:between|from) (?P<a>.+?) (?:and|to|-) (?P<b>.+)"), Between),
    (re.compile(r"(?:ends? )?(?:at or before|before|by|no later than) (?P<a>.+)"), Before),
    (re.compile(r"(?:starts? )?(?:at or after|after|from|no earlier than) (?P<a>.+)"), After),
    (re.compile(r"(?:starts? )?at (?P<a>.+)"), At),
]


def parse_constraint(event_id: int, text: str) -> TimeConstraint:
    """A time constraint from words: "before 1:45pm", "after 10am", "at 11:15\u202fam",
    "between 10am and 11:45am" (any spacing, am/pm or 24-hour)."""
    cleaned = " ".join(text.split()).lower()
    for pattern, kind in _PHRASES:
        match = pattern.fullmatch(cleaned)
        if match is None:
            continue
        first = parse_spoken(match.group("a"))
        if kind is Between:
            return Between(event_id=event_id, start=first, end=parse_spoken(match.group("b")))
        return kind(event_id=event_id, time=first)
    raise ValueError(f"cannot read the constraint {text!r}")
