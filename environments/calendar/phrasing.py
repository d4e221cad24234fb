"""What the simulated user says: event names and one message per request, in varied words.

Every choice is drawn from the `random.Random` passed in, so a seed fixes the wording too.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from environments.calendar.clock import format_hhmm, spoken
from environments.calendar.schedule import After, Before, Between, Event, TimeConstraint

__all__ = [
    "add_text",
    "cancel_text",
    "chat_text",
    "constraint_text",
    "event_names",
    "order_text",
    "resize_text",
]

_ACTIVITIES = (
    "Design review",
    "Sprint planning",
    "Budget check-in",
    "Customer call",
    "Hiring debrief",
    "Architecture sync",
    "Roadmap workshop",
    "Incident postmortem",
    "Vendor demo",
    "Team retrospective",
    "Brainstorm",
    "Security review",
    "Onboarding session",
    "Board meeting prep",
    "Code review session",
    "Product demo",
    "Training",
    "Lunch and learn",
    "Status update",
    "Risk assessment",
)
_TOPICS = (
    "checkout flow",
    "mobile app",
    "Q3 roadmap",
    "search service",
    "billing migration",
    "partner portal",
    "analytics dashboard",
    "support backlog",
    "pricing page",
    "data pipeline",
    "API gateway",
    "launch plan",
    "hiring plan",
    "customer survey",
    "release 2.4",
    "warehouse move",
)
_PEOPLE = ("Priya", "Marcus", "Ana", "Kenji", "Fatima", "Lucas", "Chen", "Olivia", "Tomás", "Amara")

_CHATS = (
    "Thanks, that looks good so far.",
    "Busy day ahead! I'm glad this is getting sorted.",
    "Appreciate it. I'll grab a coffee before the first meeting.",
    "By the way, the office wifi has been slow all week, so some calls may run from home.",
    "Great, thank you. The team will be happy to see this settled.",
    "Perfect. I'm still waiting on slides from two people, but that's not your problem.",
    "Thanks! Remind me to book a room later, would you? No change needed for now.",
)


def event_names(rng: random.Random, count: int) -> list[str]:
    """`count` different event names."""
    names: set[str] = set()
    while len(names) < count:
        if rng.random() < 0.2:
            names.add(f"1:1 with {rng.choice(_PEOPLE)}")
        else:
            names.add(f"{rng.choice(_ACTIVITIES)}: {rng.choice(_TOPICS)}")
    return rng.sample(sorted(names), count)


def _label(event: Event) -> str:
    return f'"{event.event_name}" (event id: {event.event_id})'


def _length(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return "an hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


def _clock_style(rng: random.Random) -> Callable[[int], str]:
    """How one message writes its times: mostly "1:45 pm", sometimes "13:45"."""
    return format_hhmm if rng.random() < 0.2 else spoken


def add_text(rng: random.Random, event: Event) -> str:
    length = _length(event.duration)
    return rng.choice(
        (
            f"Please add {_label(event)} to my calendar; it takes {length}.",
            f'Can you put "{event.event_name}" on the calendar? It runs {length}. '
            f"(event id: {event.event_id})",
            f"New event: {_label(event)}, {length} long.",
            f"I need a slot of {length} for {_label(event)}.",
        )
    )


def constraint_text(
    rng: random.Random, event: Event, constraint: TimeConstraint, replaces: bool
) -> str:
    """The request for a time constraint; `replaces` says an earlier one is dropped."""
    label = _label(event)
    say = _clock_style(rng)
    options: tuple[str, ...]
    if isinstance(constraint, Before):
        time = say(constraint.time)
        options = (
            f"{label} has to be over by {time}.",
            f"Make sure {label} ends at or before {time}.",
            f"Could {label} finish no later than {time}?",
        )
    elif isinstance(constraint, After):
        time = say(constraint.time)
        options = (
            f"{label} can't start before {time}.",
            f"Please schedule {label} to start at {time} or later.",
            f"{label} should begin no earlier than {time}.",
        )
    elif isinstance(constraint, Between):
        start, end = say(constraint.start), say(constraint.end)
        options = (
            f"{label} has to fit between {start} and {end}.",
            f"Please keep {label} within {start} to {end}: not starting before {start} "
            f"and done by {end}.",
        )
    else:
        time = say(constraint.time)
        options = (
            f"{label} must start at {time} sharp.",
            f"Please set {label} to start exactly at {time}.",
        )
    text = rng.choice(options)
    if replaces:
        return f"Change of plans: the time I gave earlier for {label} no longer holds. {text}"
    return text


def order_text(rng: random.Random, first: Event, then: Event) -> str:
    return rng.choice(
        (
            f"{_label(first)} has to be finished before {_label(then)} starts.",
            f"Please make sure {_label(then)} only starts once {_label(first)} is over.",
        )
    )


def resize_text(rng: random.Random, event: Event, duration: int) -> str:
    return rng.choice(
        (
            f"{_label(event)} now needs {_length(duration)} instead of {_length(event.duration)}.",
            f"Please change the length of {_label(event)} to {_length(duration)}.",
        )
    )


def cancel_text(rng: random.Random, event: Event) -> str:
    return rng.choice(
        (
            f"{_label(event)} is cancelled; please remove it.",
            f"Please take {_label(event)} off the calendar.",
        )
    )


def chat_text(rng: random.Random) -> str:
    return rng.choice(_CHATS)
