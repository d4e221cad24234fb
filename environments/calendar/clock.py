"""Times of day: minutes since midnight inside, "HH:MM" on the wire, "1:45 pm" in speech."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["Clock", "format_hhmm", "parse_hhmm", "parse_spoken", "spoken"]

MINUTES_PER_DAY = 24 * 60

_HHMM = re.compile(r"(\d{1,2}):(\d{2})")
# "10am", "10:00 am", "1:45\u202fpm", "10 a.m.", "13:45"; any Unicode space between the parts.
_SPOKEN = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*(?:([ap])\.?\s*m\.?)?", re.IGNORECASE)
_WORDS = {"noon": 12 * 60, "midday": 12 * 60, "midnight": 0}


def parse_hhmm(text: str) -> int:
    """Minutes since midnight of a 24-hour "HH:MM" (or "H:MM"); ValueError otherwise."""
    match = _HHMM.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"expected a 24-hour time HH:MM, got {text!r}")
    return _minutes(int(match.group(1)), int(match.group(2)), text)


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_spoken(text: str) -> int:
    """Minutes since midnight of a time as people write it: "1:45pm", "10 a.m.", "noon"."""
    cleaned = " ".join(text.split()).lower()
    if cleaned in _WORDS:
        return _WORDS[cleaned]
    match = _SPOKEN.fullmatch(cleaned)
    if match is None:
        raise ValueError(f"not a time of day: {text!r}")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    half = match.group(3)
    if half is not None:
        if not 1 <= hour <= 12:
            raise ValueError(f"not a time of day: {text!r}")
        hour = hour % 12 + (12 if half == "p" else 0)
    return _minutes(hour, minute, text)


def spoken(minutes: int) -> str:
    """ "10 am", "1:45 pm", "12 pm": how the simulated user says a time."""
    hour, minute = divmod(minutes, 60)
    half = "am" if hour < 12 else "pm"
    hour = hour % 12 or 12
    return f"{hour} {half}" if minute == 0 else f"{hour}:{minute:02d} {half}"


def _minutes(hour: int, minute: int, text: str) -> int:
    if hour > 23 or minute > 59:
        raise ValueError(f"not a time of day: {text!r}")
    return hour * 60 + minute


def _clock(value: Any) -> Any:
    if isinstance(value, str):
        return parse_hhmm(value)
    if isinstance(value, int) and not 0 <= value <= MINUTES_PER_DAY:
        raise ValueError(f"minutes since midnight must be in 0..{MINUTES_PER_DAY}")
    return value


Clock = Annotated[
    int,
    BeforeValidator(_clock),
    PlainSerializer(format_hhmm, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,2}:\d{2}$"}),
]
"""A time of day: "HH:MM" in JSON, minutes since midnight in Python."""
