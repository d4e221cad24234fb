"""The rules the model is given, one system prompt per mode of the environment."""

from __future__ import annotations

from environments.calendar.clock import spoken
from environments.calendar.schedule import WorkingHours

__all__ = ["chat_rules", "tool_rules"]

_SHARED = """\
You keep the user's calendar for one working day, which starts empty. Rules:
1. The working day runs from {start} to {end}: every event starts and ends within it.
2. Events never overlap; one may start exactly when another ends.
3. Every time the user asks for stays in force until the user changes it. "Ends by T" or \
"over by T": the event ends at or before T. "Start at T or later" or "not before T": it starts \
at or after T. "Between T1 and T2": it starts at or after T1 and ends at or before T2. "At T": \
it starts exactly at T. "A finished before B starts": A ends at or before B starts.
4. When a request causes a conflict, move other events as needed while keeping every \
requirement. Never ask the user to confirm, and never drop an event the user did not cancel.
5. Use the event ids the user gives."""

_CHAT = """
6. After every user message, reply with the whole calendar as a JSON list with one object per \
event: "event_id" (integer), "event_name" (string), "start_time" (24-hour "HH:MM") and \
"duration" (minutes, integer). Do this even when nothing changed. For example:
[{{"event_id": 0, "event_name": "Team sync", "start_time": "10:00", "duration": 30}}]"""

_TOOLS = """
6. The calendar lives in the calendar tools: read it with list_events and change it with \
add_event, move_event and delete_event (start times are 24-hour "HH:MM", durations in \
minutes). Only what the tools hold counts.
7. When you have handled a message, reply with one short sentence saying what you did."""


def chat_rules(hours: WorkingHours) -> str:
    """Conversational mode: the model prints the calendar after every user message."""
    return (_SHARED + _CHAT).format(start=spoken(hours.start), end=spoken(hours.end))


def tool_rules(hours: WorkingHours) -> str:
    """Tools mode: the model changes the calendar through tools."""
    return (_SHARED + _TOOLS).format(start=spoken(hours.start), end=spoken(hours.end))
