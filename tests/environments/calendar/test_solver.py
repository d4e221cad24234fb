"""The solver finds a schedule exactly when one exists."""

from __future__ import annotations

import itertools
import random

import pytest

from environments.calendar.checks import check
from environments.calendar.schedule import (
    After,
    At,
    Before,
    Between,
    Constraint,
    Entry,
    Event,
    Order,
    Requirements,
    WorkingHours,
)
from environments.calendar.solver import solve


def requirements(durations: list[int], *constraints: Constraint, **hours: str) -> Requirements:
    return Requirements(
        events=tuple(Event(event_id=i, duration=d) for i, d in enumerate(durations)),
        constraints=constraints,
        hours=WorkingHours.model_validate(hours),
    )


def entries(requirements: Requirements, starts: dict[int, int]) -> list[Entry]:
    return [
        Entry(event_id=e.event_id, start=starts[e.event_id], duration=e.duration)
        for e in requirements.events
    ]


@pytest.mark.parametrize(
    "case",
    [
        requirements([60, 60, 60, 60, 60, 60]),
        requirements([60, 30], Before(event_id=1, time="10:30"), At(event_id=0, time="10:30")),
        requirements([45, 45], Order(first=1, then=0), Before(event_id=0, time="11:30")),
        requirements([30, 30, 30], Between(event_id=2, start="10:00", end="10:30")),
        requirements([90, 60], After(event_id=0, time="14:30"), start="09:00", end="17:00"),
    ],
)
def test_a_schedule_is_found_and_meets_every_check(case: Requirements) -> None:
    starts = solve(case)
    assert starts is not None
    assert check(entries(case, starts), case).passed


@pytest.mark.parametrize(
    "case",
    [
        requirements([60] * 7),  # seven hours in a six-hour day
        requirements([60, 60], At(event_id=0, time="11:00"), At(event_id=1, time="11:30")),
        requirements([30, 30], Order(first=0, then=1), Order(first=1, then=0)),
        requirements([60], Between(event_id=0, start="11:00", end="11:45")),
        requirements([60, 60], Order(first=1, then=0), Before(event_id=0, time="11:00")),
    ],
)
def test_no_schedule_when_none_exists(case: Requirements) -> None:
    assert solve(case) is None


def brute_force(case: Requirements, step: int) -> bool:
    """Every combination of starts on a `step`-minute grid: slow, obviously right."""
    hours = case.hours
    grids = [range(hours.start, hours.end - e.duration + 1, step) for e in case.events]
    for starts in itertools.product(*grids):
        placed = dict(zip((e.event_id for e in case.events), starts, strict=True))
        if check(entries(case, placed), case).passed:
            return True
    return False


def random_case(rng: random.Random) -> Requirements:
    durations = [rng.choice([30, 60, 90]) for _ in range(rng.randint(2, 4))]
    times = [f"{h}:{m:02d}" for h in range(10, 16) for m in (0, 30)] + ["16:00"]
    constraints: list[Constraint] = []
    for event_id in range(len(durations)):
        kind = rng.choice(["none", "before", "after", "between", "at"])
        first, second = sorted(rng.sample(times, 2), key=lambda t: int(t.replace(":", "")))
        if kind == "before":
            constraints.append(Before(event_id=event_id, time=second))
        elif kind == "after":
            constraints.append(After(event_id=event_id, time=first))
        elif kind == "between":
            constraints.append(Between(event_id=event_id, start=first, end=second))
        elif kind == "at":
            constraints.append(At(event_id=event_id, time=first))
    if rng.random() < 0.5:
        a, b = rng.sample(range(len(durations)), 2)
        constraints.append(Order(first=a, then=b))
    return requirements(durations, *constraints, start="10:00", end="13:00")


def test_the_solver_agrees_with_brute_force_on_random_cases() -> None:
    rng = random.Random(7)
    outcomes = []
    for _ in range(150):
        case = random_case(rng)
        found = solve(case)
        outcomes.append(found is not None)
        assert (found is not None) == brute_force(case, step=30), case
        if found is not None:
            assert check(entries(case, found), case).passed
    assert 0.2 < sum(outcomes) / len(outcomes) < 0.9  # both answers were exercised
