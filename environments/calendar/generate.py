"""Calendar tasks without end, solvable by construction and checked by the solver.

A task starts from a hidden reference schedule of all its events. Each constraint the user
asks for is read off the current reference (with some slack), so the reference keeps meeting
all of them; a change (a new time, a new length) is accepted only when the solver finds a
schedule for it, and that schedule becomes the new reference. Before a task is returned the
solver checks the requirements after every request, so every calendar the model is asked for,
the last one included, has a solution.

The difficulty sets how many events there are, how full the day is, how tight and how many
the constraints are, and how often the user changes their mind.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from environments.calendar import phrasing
from environments.calendar.conversation import (
    AddEvent,
    Cancel,
    Chat,
    Constrain,
    Request,
    Resize,
    replay,
)
from environments.calendar.prompts import chat_rules, tool_rules
from environments.calendar.schedule import (
    After,
    At,
    Before,
    Between,
    Entry,
    Event,
    Order,
    Requirements,
    TimeConstraint,
    WorkingHours,
)
from environments.calendar.solver import solve

__all__ = [
    "LEVELS",
    "MAX_REQUESTS",
    "generate_chat_tasks",
    "generate_tasks",
    "generate_tool_tasks",
    "solved_calendar",
]

Mode = Literal["chat", "tools"]
STEP = 15
"""Minutes: every generated duration and time is a multiple of this."""
MAX_DURATION = 120
MAX_REQUESTS = 24
"""No task has more user messages than this (the conversational `max_turns` in rl_hub.yaml)."""
PROPOSALS = 12
"""Attempts at a random change before falling back to one the reference already meets."""


@dataclass(frozen=True)
class Level:
    events: tuple[int, int]
    fill: tuple[float, float]
    """Share of the working day the events take together."""
    constrained: float
    """Chance that an event gets a time constraint."""
    slack: tuple[int, int]
    """Minutes a constraint's bound may lie beyond the reference schedule."""
    exact: float
    """Share of time constraints that fix the start ("at T")."""
    orders: tuple[int, int]
    changes: tuple[int, int]
    change_kinds: tuple[str, ...]
    chats: tuple[int, int]


LEVELS = {
    "easy": Level(
        events=(3, 4),
        fill=(0.3, 0.5),
        constrained=0.5,
        slack=(30, 90),
        exact=0.1,
        orders=(0, 0),
        changes=(0, 0),
        change_kinds=(),
        chats=(0, 1),
    ),
    "medium": Level(
        events=(4, 6),
        fill=(0.45, 0.65),
        constrained=0.7,
        slack=(15, 60),
        exact=0.2,
        orders=(0, 1),
        changes=(1, 2),
        change_kinds=("retime", "resize"),
        chats=(0, 1),
    ),
    "hard": Level(
        events=(6, 8),
        fill=(0.65, 0.85),
        constrained=0.85,
        slack=(0, 30),
        exact=0.25,
        orders=(1, 2),
        changes=(2, 3),
        change_kinds=("retime", "resize", "cancel"),
        chats=(1, 2),
    ),
}


def generate_chat_tasks(n: int, seed: int, difficulty: str) -> list[dict[str, Any]]:
    """Tasks for the conversational mode (the `calendar` entry's generator)."""
    return generate_tasks(n, seed, difficulty, mode="chat")


def generate_tool_tasks(n: int, seed: int, difficulty: str) -> list[dict[str, Any]]:
    """Tasks for the tools mode (the `calendar_tools` entry's generator)."""
    return generate_tasks(n, seed, difficulty, mode="tools")


def generate_tasks(
    n: int, seed: int, difficulty: str, *, mode: Mode, hours: WorkingHours | None = None
) -> list[dict[str, Any]]:
    """`n` task rows; task `i` depends only on (seed, difficulty, i), never on `n`."""
    if difficulty not in LEVELS:
        raise ValueError(f"difficulty must be one of {', '.join(LEVELS)}, got {difficulty!r}")
    hours = hours or WorkingHours()
    return [_task(index, seed, difficulty, mode, hours) for index in range(n)]


def _task(
    index: int, seed: int, difficulty: str, mode: Mode, hours: WorkingHours
) -> dict[str, Any]:
    rng = random.Random(f"calendar:{seed}:{difficulty}:{index}")
    conversation = _Conversation(rng, LEVELS[difficulty], hours)
    requests = conversation.play()
    final = replay(requests, hours)
    rules = chat_rules(hours) if mode == "chat" else tool_rules(hours)
    return {
        "id": f"calendar-{mode}-{difficulty}-{seed}-{index:05d}",
        "prompt": [
            {"role": "system", "content": rules},
            {"role": "user", "content": requests[0].text},
        ],
        "difficulty": difficulty,
        "working_hours": hours.model_dump(),
        "events": [event.model_dump() for event in final.events],
        "constraints": [constraint.model_dump() for constraint in final.constraints],
        "requests": [request.model_dump() for request in requests],
        "solution": solved_calendar(final),  # play() checked that every prefix has one
    }


def solved_calendar(requirements: Requirements) -> list[dict[str, Any]]:
    """The solver's calendar for `requirements`, in order of start time, as a calendar prints
    it; a ValueError when there is none."""
    starts = solve(requirements)
    if starts is None:
        raise ValueError("no calendar meets these requirements")
    entries = [
        Entry(
            event_id=event.event_id,
            event_name=event.event_name,
            start=starts[event.event_id],
            duration=event.duration,
        )
        for event in requirements.events
    ]
    return [entry.wire() for entry in sorted(entries, key=lambda entry: entry.start)]


class _Conversation:
    """One task's requests, made in order against a reference schedule of all its events."""

    def __init__(self, rng: random.Random, level: Level, hours: WorkingHours) -> None:
        self.rng = rng
        self.level = level
        self.hours = hours
        count = rng.randint(*level.events)
        durations = self._durations(count)
        names = phrasing.event_names(rng, count)
        self.planned = {
            i: Event(event_id=i, event_name=names[i], duration=durations[i]) for i in range(count)
        }
        self.reference = self._layout()
        self.requests: list[Request] = []
        self.added: dict[int, Event] = {}
        self.timed: set[int] = set()
        self.ordered: set[tuple[int, int]] = set()

    def play(self) -> list[Request]:
        for step in self._script():
            self._say(step)
            if solve(replay(self.requests, self.hours)) is None:
                raise RuntimeError(f"request {len(self.requests) - 1} made the task unsolvable")
        if len(self.requests) > MAX_REQUESTS:
            raise RuntimeError(f"{len(self.requests)} requests, more than {MAX_REQUESTS}")
        return self.requests

    # The plan: durations, the reference schedule and the order of the requests.

    def _durations(self, count: int) -> list[int]:
        """`count` durations filling the planned share of the day, in steps of STEP."""
        day = self.hours.end - self.hours.start
        units = round(self.rng.uniform(*self.level.fill) * day / STEP)
        units = min(max(units, count), count * MAX_DURATION // STEP)
        parts = [1] * count
        for _ in range(units - count):
            parts[
                self.rng.choice([i for i, p in enumerate(parts) if p < MAX_DURATION // STEP])
            ] += 1
        return [part * STEP for part in parts]

    def _layout(self) -> dict[int, int]:
        """A random schedule of every planned event: a random order, random gaps."""
        order = list(self.planned)
        self.rng.shuffle(order)
        busy = sum(event.duration for event in self.planned.values())
        free_units = (self.hours.end - self.hours.start - busy) // STEP
        cuts = sorted(self.rng.randint(0, free_units) for _ in order)
        starts, now, previous_cut = {}, self.hours.start, 0
        for event_id, cut in zip(order, cuts, strict=True):
            now += (cut - previous_cut) * STEP
            previous_cut = cut
            starts[event_id] = now
            now += self.planned[event_id].duration
        return starts

    def _script(self) -> list[tuple[str, int]]:
        level, rng = self.level, self.rng
        steps: list[tuple[str, int]] = [("add", event_id) for event_id in self.planned]
        for event_id in self.planned:
            if rng.random() < level.constrained:
                after = steps.index(("add", event_id)) + 1
                steps.insert(rng.randint(after, len(steps)), ("constrain", event_id))
        second_add = steps.index(("add", 1)) + 1
        for _ in range(rng.randint(*level.orders)):
            steps.insert(rng.randint(second_add, len(steps)), ("order", -1))
        for _ in range(rng.randint(*level.changes)):
            steps.append((rng.choice(level.change_kinds), -1))
        for _ in range(rng.randint(*level.chats)):
            steps.insert(rng.randint(1, len(steps)), ("chat", -1))
        return steps

    # Saying each step.

    def _say(self, step: tuple[str, int]) -> None:
        kind, event_id = step
        rng = self.rng
        if kind == "add":
            event = self.planned[event_id]
            self.added[event_id] = event
            self.requests.append(AddEvent(text=phrasing.add_text(rng, event), event=event))
        elif kind == "constrain":
            self._constrain(self.added[event_id], self._constraint_near_reference(event_id))
        elif kind == "order":
            self._order()
        elif kind == "retime":
            self._retime(self.added[rng.choice(sorted(self.added))])
        elif kind == "resize":
            self._resize(self.added[rng.choice(sorted(self.added))])
        elif kind == "cancel":
            self._cancel(self.added[rng.choice(sorted(self.added))])
        elif kind == "chat":
            self.requests.append(Chat(text=phrasing.chat_text(rng)))

    def _constrain(self, event: Event, constraint: TimeConstraint) -> None:
        text = phrasing.constraint_text(
            self.rng, event, constraint, replaces=event.event_id in self.timed
        )
        self.timed.add(event.event_id)
        self.requests.append(Constrain(text=text, constraint=constraint))

    def _constraint_near_reference(self, event_id: int) -> TimeConstraint:
        """A time constraint the reference schedule meets, as tight as the level's slack."""
        start = self.reference[event_id]
        return self._constraint_around(event_id, start)

    def _constraint_around(self, event_id: int, start: int) -> TimeConstraint:
        """A time constraint that an event starting at `start` meets."""
        rng, hours = self.rng, self.hours
        end = start + self.planned[event_id].duration

        def slack() -> int:
            return rng.randrange(self.level.slack[0], self.level.slack[1] + 1, STEP)

        if rng.random() < self.level.exact:
            return At(event_id=event_id, time=start)
        kind = rng.choice(("before", "after", "between"))
        if kind == "before":
            return Before(event_id=event_id, time=min(end + slack(), hours.end))
        if kind == "after":
            return After(event_id=event_id, time=max(start - slack(), hours.start))
        return Between(
            event_id=event_id,
            start=max(start - slack(), hours.start),
            end=min(end + slack(), hours.end),
        )

    def _order(self) -> None:
        pairs = [
            (first, then)
            for first in sorted(self.added)
            for then in sorted(self.added)
            if self.reference[first] + self.added[first].duration <= self.reference[then]
            and (first, then) not in self.ordered
        ]
        if not pairs:
            return
        first, then = self.rng.choice(pairs)
        self.ordered.add((first, then))
        self.requests.append(
            Constrain(
                text=phrasing.order_text(self.rng, self.added[first], self.added[then]),
                constraint=Order(first=first, then=then),
            )
        )

    def _retime(self, event: Event) -> None:
        """A new time for the event, anywhere in the day if the rest can make room."""
        latest = self.hours.end - event.duration
        for _ in range(PROPOSALS):
            start = self.rng.randrange(self.hours.start, latest + 1, STEP)
            constraint = self._constraint_around(event.event_id, start)
            if self._try([Constrain(text="", constraint=constraint)]):
                self._constrain(event, constraint)
                return
        self._constrain(event, self._constraint_near_reference(event.event_id))

    def _resize(self, event: Event) -> None:
        lengths = [d for d in range(STEP, MAX_DURATION + 1, STEP) if d != event.duration]
        for _ in range(PROPOSALS):
            duration = self.rng.choice(lengths)
            if self._try([Resize(text="", event_id=event.event_id, duration=duration)]):
                text = phrasing.resize_text(self.rng, event, duration)
                self.requests.append(Resize(text=text, event_id=event.event_id, duration=duration))
                resized = event.model_copy(update={"duration": duration})
                self.added[event.event_id] = self.planned[event.event_id] = resized
                return

    def _cancel(self, event: Event) -> None:
        if len(self.added) <= 2:
            return
        self.requests.append(
            Cancel(text=phrasing.cancel_text(self.rng, event), event_id=event.event_id)
        )
        del self.added[event.event_id], self.planned[event.event_id]
        del self.reference[event.event_id]
        self.timed.discard(event.event_id)
        self.ordered = {pair for pair in self.ordered if event.event_id not in pair}

    def _try(self, requests: list[Request]) -> bool:
        """Whether every planned event still fits after `requests`; if so the solver's
        schedule becomes the reference."""
        requirements = replay(self.requests + requests, self.hours)
        unadded = tuple(e for i, e in self.planned.items() if i not in self.added)
        everything = Requirements(
            events=requirements.events + unadded,
            constraints=requirements.constraints,
            hours=self.hours,
        )
        solution = solve(everything)
        if solution is None:
            return False
        self.reference = solution
        return True
