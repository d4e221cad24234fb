"""Times of day as the wire, the user and the peer's rows write them."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from environments.calendar.clock import Clock, format_hhmm, parse_hhmm, parse_spoken, spoken


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("10:00", 600), ("9:05", 545), (" 16:00 ", 960), ("00:00", 0), ("23:59", 1439)],
)
def test_hhmm_round_trips(text: str, minutes: int) -> None:
    assert parse_hhmm(text) == minutes
    assert parse_hhmm(format_hhmm(minutes)) == minutes


@pytest.mark.parametrize("text", ["24:00", "10:60", "1pm", "10", "10:5", ""])
def test_hhmm_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM|time of day"):
        parse_hhmm(text)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("10am", 600),
        ("1:45pm", 825),
        ("1:45\u202fpm", 825),
        ("10:00\u00a0AM", 600),
        ("10 a.m.", 600),
        ("12pm", 720),
        ("12:30 am", 30),
        ("13:45", 825),
        ("noon", 720),
        ("4 pm", 960),
    ],
)
def test_spoken_times_as_people_write_them(text: str, minutes: int) -> None:
    assert parse_spoken(text) == minutes


@pytest.mark.parametrize("text", ["13pm", "0am", "teatime", "10:75 am"])
def test_spoken_refuses_what_is_not_a_time(text: str) -> None:
    with pytest.raises(ValueError, match="time of day"):
        parse_spoken(text)


@pytest.mark.parametrize(("minutes", "said"), [(600, "10 am"), (825, "1:45 pm"), (720, "12 pm")])
def test_the_user_says_times_in_twelve_hour_form(minutes: int, said: str) -> None:
    assert spoken(minutes) == said
    assert parse_spoken(said) == minutes


def test_a_clock_field_is_minutes_inside_and_hhmm_outside() -> None:
    class Slot(BaseModel):
        at: Clock

    slot = Slot.model_validate({"at": "13:45"})
    assert slot.at == 825
    assert slot.model_dump() == {"at": "13:45"}
    assert Slot(at=600).model_dump_json() == '{"at":"10:00"}'
    with pytest.raises(ValueError, match="HH:MM"):
        Slot.model_validate({"at": "1:45pm"})
