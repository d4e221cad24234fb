"""The calendar environment: a user builds a day's calendar over many turns.

Two modes, one server class each (the mode decides which tools exist, and tools belong to the
class):
- `CalendarServer`, conversational: after every user message the model prints the whole
  calendar as JSON; the last one it printed is judged.
- `CalendarToolsServer`: the model keeps the calendar with tools; what they hold at the end is
  judged.

In both, `respond` plays the user: after each assistant answer it checks the calendar against
the requests so far (the per-turn metric `turns_correct`) and sends the next request, or ends
the episode when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field

from environments.calendar.checks import check, read_calendar
from environments.calendar.clock import format_hhmm, parse_hhmm
from environments.calendar.schedule import Entry, WorkingHours
from environments.calendar.task import CalendarTask
from resources_server import ResourcesServer, ToolError, Trajectory, Verdict, tool

__all__ = ["CalendarServer", "CalendarSettings", "CalendarToolsServer"]


class CalendarSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    working_hours: WorkingHours = Field(default_factory=WorkingHours)
    """The working day of tasks whose rows state none (generated and NeMo Gym rows do)."""


@dataclass
class CalendarState:
    """One episode's state."""

    answered: int = 0
    """User requests the model has answered."""
    turns_correct: list[bool] = field(default_factory=list)
    """Per answered request: whether the calendar then met every check."""
    calendar: dict[int, Entry] = field(default_factory=dict)
    """The tools' calendar (tools mode only)."""


class CalendarServer(ResourcesServer[CalendarTask, CalendarState]):
    """Conversational mode: reward 1 when the last calendar printed passes every check."""

    task_model = CalendarTask
    settings_model = CalendarSettings

    @property
    def default_hours(self) -> WorkingHours:
        return cast(CalendarSettings, self.settings).working_hours

    def calendar(self, state: CalendarState, trajectory: Trajectory) -> list[Entry] | None:
        """The calendar to judge; None when there is none to read."""
        return read_calendar(trajectory.final_text)

    async def seed(self, task: CalendarTask) -> CalendarState:
        return CalendarState()

    async def respond(
        self, task: CalendarTask, state: CalendarState, trajectory: Trajectory
    ) -> str | None:
        if state.answered >= len(task.requests):
            return None  # a row without requests (NeMo Gym's): one answer ends it
        state.answered += 1
        expected = task.requirements_after(state.answered, self.default_hours)
        state.turns_correct.append(check(self.calendar(state, trajectory), expected).passed)
        if state.answered == len(task.requests):
            return None
        return task.requests[state.answered].text

    async def verify(
        self, task: CalendarTask, trajectory: Trajectory, state: CalendarState
    ) -> Verdict:
        report = check(self.calendar(state, trajectory), task.requirements(self.default_hours))
        metrics = {**report.metrics(), "events_expected": len(task.events)}
        if task.requests:
            metrics["requests_answered"] = state.answered
            metrics["requests_total"] = len(task.requests)
        if state.turns_correct:
            metrics["turns_correct"] = sum(state.turns_correct) / len(state.turns_correct)
        return Verdict(reward=float(report.passed), components=report.components(), metrics=metrics)


class CalendarToolsServer(CalendarServer):
    """Tools mode: reward 1 when the tools' calendar at the end passes every check."""

    def calendar(self, state: CalendarState, trajectory: Trajectory) -> list[Entry] | None:
        return list(state.calendar.values())

    @tool
    async def list_events(self, state: CalendarState) -> list[dict[str, Any]]:
        """List the calendar's events in order of start time."""
        return [entry.wire() for entry in sorted(state.calendar.values(), key=_start)]

    @tool
    async def add_event(
        self, state: CalendarState, event_id: int, event_name: str, start_time: str, duration: int
    ) -> str:
        """Add an event to the calendar.

        Args:
            event_id: The id the user gave the event.
            event_name: What the event is called.
            start_time: When it starts, 24-hour "HH:MM".
            duration: How long it lasts, in minutes.
        """
        if event_id in state.calendar:
            raise ToolError(f"event {event_id} is already on the calendar; use move_event")
        entry = Entry(
            event_id=event_id,
            event_name=event_name,
            start=_clock(start_time),
            duration=_minutes(duration),
        )
        state.calendar[event_id] = entry
        return f"Added event {event_id} at {_span(entry)}.{_overlaps(state, entry)}"

    @tool
    async def move_event(
        self, state: CalendarState, event_id: int, start_time: str, duration: int | None = None
    ) -> str:
        """Move an event to a new start time, and change its length if asked.

        Args:
            event_id: The event to move.
            start_time: Its new start, 24-hour "HH:MM".
            duration: Its new length in minutes; leave out to keep the length.
        """
        entry = _existing(state, event_id)
        length = entry.duration if duration is None else _minutes(duration)
        moved = entry.model_copy(update={"start": _clock(start_time), "duration": length})
        state.calendar[event_id] = moved
        return f"Moved event {event_id} to {_span(moved)}.{_overlaps(state, moved)}"

    @tool
    async def delete_event(self, state: CalendarState, event_id: int) -> str:
        """Remove an event from the calendar.

        Args:
            event_id: The event to remove.
        """
        _existing(state, event_id)
        del state.calendar[event_id]
        return f"Deleted event {event_id}."


def _start(entry: Entry) -> int:
    return entry.start


def _span(entry: Entry) -> str:
    return f"{format_hhmm(entry.start)}-{format_hhmm(entry.end)}"


def _overlaps(state: CalendarState, entry: Entry) -> str:
    """A note on the events the changed one now overlaps, as a calendar app would show."""
    clashes = [
        f"event {other.event_id} ({_span(other)})"
        for other in sorted(state.calendar.values(), key=_start)
        if other.event_id != entry.event_id and other.start < entry.end and entry.start < other.end
    ]
    return f" It overlaps {', '.join(clashes)}." if clashes else ""


def _existing(state: CalendarState, event_id: int) -> Entry:
    if event_id not in state.calendar:
        known = ", ".join(str(i) for i in sorted(state.calendar)) or "none"
        raise ToolError(f"there is no event {event_id} on the calendar (its events: {known})")
    return state.calendar[event_id]


def _clock(start_time: str) -> int:
    try:
        return parse_hhmm(start_time)
    except ValueError:
        raise ToolError(f'start_time must be a 24-hour time "HH:MM", got {start_time!r}') from None


def _minutes(duration: int) -> int:
    if duration <= 0:
        raise ToolError(f"duration must be a positive number of minutes, got {duration}")
    return duration
