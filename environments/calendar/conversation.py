"""The user's side of a calendar conversation: one request per user message, and the
calendar requirements they add up to.

A time constraint (`before`, `after`, `between`, `at`) replaces the event's earlier time
constraint, if any; `order` constraints accumulate. Cancelling an event drops it and every
constraint that names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from environments.calendar.schedule import (
    Constraint,
    Event,
    Order,
    Requirements,
    WorkingHours,
)

__all__ = ["AddEvent", "Cancel", "Chat", "Constrain", "Request", "Resize", "replay"]


class Said(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    """The user's message."""


class AddEvent(Said):
    op: Literal["add"] = "add"
    event: Event


class Constrain(Said):
    op: Literal["constrain"] = "constrain"
    constraint: Constraint


class Resize(Said):
    op: Literal["resize"] = "resize"
    event_id: int
    duration: Annotated[int, Field(gt=0)]


class Cancel(Said):
    op: Literal["cancel"] = "cancel"
    event_id: int


class Chat(Said):
    """Small talk: the calendar stays as it is (and is still printed)."""

    op: Literal["chat"] = "chat"


Request = Annotated[AddEvent | Constrain | Resize | Cancel | Chat, Field(discriminator="op")]


def replay(requests: Sequence[Request], hours: WorkingHours) -> Requirements:
    """The requirements after `requests`; ValueError naming the first request that does not
    fit the ones before it (an event added twice, a change to an event that is not there)."""
    events: dict[int, Event] = {}
    constraints: list[Constraint] = []
    for index, request in enumerate(requests):
        where = f"requests.{index}"
        if isinstance(request, AddEvent):
            if request.event.event_id in events:
                raise ValueError(f"{where}: event {request.event.event_id} is added twice")
            events[request.event.event_id] = request.event
        elif isinstance(request, Constrain):
            new = request.constraint
            _require(events, new.event_ids, where)
            if not isinstance(new, Order):
                constraints = [
                    old
                    for old in constraints
                    if isinstance(old, Order) or old.event_id != new.event_id
                ]
            constraints.append(new)
        elif isinstance(request, Resize):
            _require(events, (request.event_id,), where)
            resized = events[request.event_id].model_copy(update={"duration": request.duration})
            events[request.event_id] = resized
        elif isinstance(request, Cancel):
            _require(events, (request.event_id,), where)
            del events[request.event_id]
            constraints = [c for c in constraints if request.event_id not in c.event_ids]
    return Requirements(events=tuple(events.values()), constraints=tuple(constraints), hours=hours)


def _require(events: dict[int, Event], event_ids: Sequence[int], where: str) -> None:
    for event_id in event_ids:
        if event_id not in events:
            raise ValueError(f"{where}: there is no event {event_id} at this point")
