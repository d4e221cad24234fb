"""Reading the model's calendar and judging it against the requirements.

The reward is 1 only when every check passes. The checks are independent, so the metrics say
exactly which ones failed, and the fraction of constraints met is a dense signal a trainer
may use on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from pydantic import JsonValue

from environments.calendar.clock import parse_hhmm
from environments.calendar.schedule import Entry, Requirements, constraint_holds

__all__ = ["CHECKS", "Report", "check", "read_calendar"]

CHECKS = ("parsed", "event_count", "no_overlap", "durations", "working_hours", "constraints")
"""`parsed` a calendar was found; `event_count` it holds as many events as required, each id
once; `no_overlap` no two events overlap (back to back is fine); `durations` every required
event is there with its duration; `working_hours` every event starts and ends within the day;
`constraints` every constraint holds."""

_DECODER = json.JSONDecoder()


def read_calendar(text: str) -> list[Entry] | None:
    """The last JSON list of events in `text`, prose and code fences around it allowed.

    An event is an object with `event_id`, `start_time` ("HH:MM") and `duration` (minutes);
    `event_name` is optional. None when the text holds no such list.
    """
    position = len(text)
    while (position := text.rfind("[", 0, position)) >= 0:
        try:
            value, _ = _DECODER.raw_decode(text, position)
        except ValueError:
            continue
        entries = _entries(value)
        if entries is not None:
            return entries
    return None


def _entries(value: Any) -> list[Entry] | None:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        return None
    try:
        return [
            Entry(
                event_id=_whole_number(item["event_id"]),
                event_name=str(item.get("event_name") or ""),
                start=parse_hhmm(str(item["start_time"])),
                duration=_whole_number(item["duration"]),
            )
            for item in value
        ]
    except (KeyError, ValueError, TypeError):
        return None


def _whole_number(value: Any) -> int:
    """3, 3.0 and "3" are all 3; anything else is a ValueError."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


@dataclass(frozen=True)
class Report:
    failed: tuple[str, ...]
    """The names of the checks that failed (see `CHECKS`), in that order."""
    constraints_met: int
    constraints_total: int
    events_found: int

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def constraint_fraction(self) -> float:
        """Constraints met out of all; 1.0 when there are none and a calendar was read."""
        if "parsed" in self.failed:
            return 0.0
        return self.constraints_met / self.constraints_total if self.constraints_total else 1.0

    def components(self) -> dict[str, float]:
        return {name: float(name not in self.failed) for name in CHECKS}

    def metrics(self) -> dict[str, JsonValue]:
        return {
            "checks_failed": list(self.failed),
            "constraints_satisfied": self.constraint_fraction,
            "events_found": self.events_found,
        }


def check(entries: list[Entry] | None, requirements: Requirements) -> Report:
    """Judge a calendar (None: none could be read) against the requirements."""
    total = len(requirements.constraints)
    if entries is None:
        return Report(("parsed",), 0, total, 0)
    by_id = {entry.event_id: entry for entry in reversed(entries)}  # the first one wins
    met = sum(constraint_holds(constraint, by_id) for constraint in requirements.constraints)
    hours = requirements.hours
    outcomes = {
        "event_count": len(entries) == len(requirements.events) == len(by_id),
        "no_overlap": not _overlapping(entries),
        "durations": all(
            event.event_id in by_id and by_id[event.event_id].duration == event.duration
            for event in requirements.events
        ),
        "working_hours": all(hours.start <= e.start and e.end <= hours.end for e in entries),
        "constraints": met == total,
    }
    failed = tuple(name for name in CHECKS if outcomes.get(name) is False)
    return Report(failed, met, total, len(entries))


def _overlapping(entries: Iterable[Entry]) -> bool:
    ordered = sorted(entries, key=lambda entry: entry.start)
    return any(later.start < earlier.end for earlier, later in pairwise(ordered))
