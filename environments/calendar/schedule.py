"""What a calendar must satisfy: its events, the working day and the user's constraints.

Each constraint is one small model with a `holds` test; the time constraints (`before`,
`after`, `between`, `at`) also give the window of start times they allow, which is what the
solver works with. `order` ties two events: `first` ends at or before `then` starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from environments.calendar.clock import MINUTES_PER_DAY, Clock, format_hhmm

__all__ = [
    "After",
    "At",
    "Before",
    "Between",
    "Constraint",
    "Entry",
    "Event",
    "Order",
    "Requirements",
    "TimeConstraint",
    "WorkingHours",
]

DEFAULT_DAY_START = 10 * 60
DEFAULT_DAY_END = 16 * 60


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Event(Record):
    """An event the calendar must hold."""

    event_id: int
    event_name: str = ""
    duration: Annotated[int, Field(gt=0)]
    """Minutes."""


class Entry(Record):
    """An event as placed on a calendar (the model's answer, or the tools' state)."""

    event_id: int
    event_name: str = ""
    start: int
    """Minutes since midnight."""
    duration: int

    @property
    def end(self) -> int:
        return self.start + self.duration

    def wire(self) -> dict[str, Any]:
        """The event as a calendar prints it: `start_time` as "HH:MM"."""
        return {
            "event_id": self.event_id,
            "event_name": self.event_name,
            "start_time": format_hhmm(self.start),
            "duration": self.duration,
        }


class WorkingHours(Record):
    start: Clock = DEFAULT_DAY_START
    end: Clock = DEFAULT_DAY_END

    @model_validator(mode="after")
    def _ordered(self) -> WorkingHours:
        if self.start >= self.end:
            raise ValueError("start must come before end")
        return self


class OnOneEvent(Record):
    kind: str
    event_id: int

    @property
    def event_ids(self) -> tuple[int, ...]:
        return (self.event_id,)


class Before(OnOneEvent):
    """The event ends at or before `time`."""

    kind: Literal["before"] = "before"
    time: Clock

    def window(self, duration: int) -> tuple[int, int]:
        return 0, self.time - duration


class After(OnOneEvent):
    """The event starts at or after `time`."""

    kind: Literal["after"] = "after"
    time: Clock

    def window(self, duration: int) -> tuple[int, int]:
        return self.time, MINUTES_PER_DAY


class Between(OnOneEvent):
    """The event starts at or after `start` and ends at or before `end`."""

    kind: Literal["between"] = "between"
    start: Clock
    end: Clock

    def window(self, duration: int) -> tuple[int, int]:
        return self.start, self.end - duration


class At(OnOneEvent):
    """The event starts exactly at `time`."""

    kind: Literal["at"] = "at"
    time: Clock

    def window(self, duration: int) -> tuple[int, int]:
        return self.time, self.time


class Order(Record):
    """Event `first` ends at or before event `then` starts."""

    kind: Literal["order"] = "order"
    first: int
    then: int

    @model_validator(mode="after")
    def _two_events(self) -> Order:
        if self.first == self.then:
            raise ValueError("an order constraint names two different events")
        return self

    @property
    def event_ids(self) -> tuple[int, ...]:
        return self.first, self.then


TimeConstraint = Annotated[Before | After | Between | At, Field(discriminator="kind")]
Constraint = Annotated[Before | After | Between | At | Order, Field(discriminator="kind")]


def constraint_holds(constraint: Constraint, entries: Mapping[int, Entry]) -> bool:
    """Whether the placed events satisfy the constraint; an absent event satisfies nothing."""
    if isinstance(constraint, Order):
        first, then = entries.get(constraint.first), entries.get(constraint.then)
        return first is not None and then is not None and first.end <= then.start
    entry = entries.get(constraint.event_id)
    if entry is None:
        return False
    earliest, latest = constraint.window(entry.duration)
    return earliest <= entry.start <= latest


class Requirements(Record):
    """Everything a correct calendar satisfies: exactly these events, within the working day,
    without overlaps, meeting every constraint."""

    events: tuple[Event, ...]
    constraints: tuple[Constraint, ...] = ()
    hours: WorkingHours = WorkingHours()

    @model_validator(mode="after")
    def _consistent(self) -> Requirements:
        ids = [event.event_id for event in self.events]
        if len(set(ids)) != len(ids):
            raise ValueError(f"events: event ids must be unique, got {ids}")
        for constraint in self.constraints:
            unknown = set(constraint.event_ids) - set(ids)
            if unknown:
                raise ValueError(f"constraints: no event {min(unknown)} to constrain")
        return self

    def event(self, event_id: int) -> Event | None:
        return next((event for event in self.events if event.event_id == event_id), None)

    def window(self, event: Event) -> tuple[int, int]:
        """Earliest and latest start of `event` allowed by the day and its time constraints."""
        earliest, latest = self.hours.start, self.hours.end - event.duration
        for constraint in self.constraints:
            if not isinstance(constraint, Order) and constraint.event_id == event.event_id:
                low, high = constraint.window(event.duration)
                earliest, latest = max(earliest, low), min(latest, high)
        return earliest, latest

    def orders(self) -> list[Order]:
        return [constraint for constraint in self.constraints if isinstance(constraint, Order)]
