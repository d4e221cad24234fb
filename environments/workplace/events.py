"""The calendar: search and read events, create, update and delete them.

Meetings keep to working hours (NeMo Gym's rows say so in their system prompt): an event
starts at 09:00 or later and ends by 18:00.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import Field

from environments.workplace import records
from environments.workplace.calls import counted
from environments.workplace.company import Company
from resources_server import ToolError

__all__ = ["EventTools"]

EventId = Annotated[str, Field(description="The event's 8-digit id.")]
DEFAULT_PAGE_SIZE = 10
START_FORMAT = "%Y-%m-%d %H:%M:%S"
CHECKS: dict[str, records.Check] = {
    "event_name": records.text,
    "participant_email": records.address,
    "event_start": lambda company, field, value: _start(field, value),
    "duration": records.integer,
}


def _start(field: str, value: str) -> str:
    try:
        return datetime.strptime(value.strip(), START_FORMAT).strftime(START_FORMAT)
    except ValueError:
        raise ToolError(f"{field} must be YYYY-MM-DD HH:MM:SS, got {value!r}") from None


def _in_hours(event: dict[str, Any]) -> None:
    start = datetime.strptime(event["event_start"], START_FORMAT)
    end = start + timedelta(minutes=int(event["duration"]))
    if start.hour < 9 or end > start.replace(hour=18, minute=0, second=0):
        raise ToolError("meetings must start at 09:00 or later and end by 18:00")


class EventTools:
    @counted
    async def calendar_search_events(
        self,
        company: Company,
        query: str = "",
        time_min: str | None = None,
        time_max: str | None = None,
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """Find events, earliest first, whose name or participant contains every word of the
        query.

        Args:
            query: Words to look for (any case); empty matches every event.
            time_min: Only events ending at or after this time, YYYY-MM-DD HH:MM:SS.
            time_max: Only events starting at or before this time, YYYY-MM-DD HH:MM:SS.
            page: Which page of results, from 1.
            page_size: Events per page.
        """
        sql, params = "SELECT * FROM events WHERE 1", []
        for word in query.lower().split():
            sql += " AND lower(event_name || ' ' || participant_email) LIKE ?"
            params.append(f"%{word}%")
        if time_max:
            sql += " AND event_start <= ?"
            params.append(_start("time_max", time_max))
        found = company.rows(sql + " ORDER BY event_start", tuple(params))
        if time_min:
            earliest = datetime.strptime(_start("time_min", time_min), START_FORMAT)
            found = [event for event in found if _end(event) >= earliest]
        return records.page_of(found, page, page_size)

    @counted
    async def calendar_get_event_information_by_id(
        self, company: Company, event_id: EventId, field: str
    ) -> dict[str, Any]:
        """Read one field of an event.

        Args:
            field: One of event_id, event_name, participant_email, event_start, duration.
        """
        return records.field_of(company, "events", event_id, field)

    @counted
    async def calendar_create_event(
        self,
        company: Company,
        event_name: str,
        participant_email: str,
        event_start: str,
        duration: str,
    ) -> dict[str, Any]:
        """Put a new event on the calendar.

        Args:
            event_name: What the event is called.
            participant_email: The address of the person it is with.
            event_start: When it starts, YYYY-MM-DD HH:MM:SS.
            duration: How long it lasts, in minutes.
        """
        values = records.checked(company, CHECKS, {
            "event_name": event_name, "participant_email": participant_email,
            "event_start": event_start, "duration": duration,
        })  # fmt: skip
        _in_hours(values)
        return records.insert(company, "events", values)

    @counted
    async def calendar_update_event(
        self, company: Company, event_id: EventId, field: str, new_value: records.NewValue
    ) -> dict[str, Any]:
        """Change one field of an event.

        Args:
            field: One of event_name, participant_email, event_start, duration.
        """
        before = records.row_of(company, "events", event_id)
        after = records.update(company, "events", event_id, field, new_value, CHECKS)
        try:
            _in_hours(after)
        except ToolError:
            records.update(company, "events", event_id, field, before[field], CHECKS)
            raise
        return after

    @counted
    async def calendar_delete_event(self, company: Company, event_id: EventId) -> str:
        """Remove an event from the calendar."""
        return records.delete(company, "events", event_id)


def _end(event: dict[str, Any]) -> datetime:
    start = datetime.strptime(event["event_start"], START_FORMAT)
    return start + timedelta(minutes=int(event["duration"]))
