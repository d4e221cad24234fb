"""Tasks without end for `tool_calls` (`gym data generate tool_calls ...`).

Even-numbered tasks ask for the weather of some cities, odd ones for a run of additions to a
counter that starts at a hidden value. Task `i` depends only on (seed, difficulty, i):

    easy    one city; one or two additions; only the tools the task needs
    medium  two cities; two or three additions
    hard    three cities; three to five steps, subtractions among them; every tool offered
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from environments.tool_calls.server import ToolCallsServer

__all__ = ["LEVELS", "generate_tasks"]

SYSTEM = "You are a helpful assistant. Use the tools you are given whenever they can help."
CITIES = (
    "San Francisco", "Lisbon", "Nairobi", "Osaka", "Toronto", "Buenos Aires", "Oslo", "Cairo",
    "Melbourne", "Reykjavik", "Lima", "Hanoi", "Denver", "Marrakesh", "Helsinki", "Chennai",
    "Seattle", "Vienna", "Bogota", "Auckland", "Dakar", "Montreal", "Krakow", "Singapore",
)  # fmt: skip
WEATHER_ASKS = (
    "What's the weather like in {cities} right now?",
    "I'm heading out soon. How is it outside in {cities}?",
    "Check the current weather for {cities}, please.",
    "Should I bring an umbrella today? I'll be in {cities}.",
)
COUNTER_ASKS = (
    "{steps}, then tell me the count.",
    "Please {steps}. What is the counter at now?",
    "{steps}; after that, read the counter back to me.",
)


@dataclass(frozen=True)
class Level:
    cities: int
    steps: tuple[int, int]
    subtract: bool
    all_tools: bool


LEVELS = {
    "easy": Level(cities=1, steps=(1, 2), subtract=False, all_tools=False),
    "medium": Level(cities=2, steps=(2, 3), subtract=False, all_tools=False),
    "hard": Level(cities=3, steps=(3, 5), subtract=True, all_tools=True),
}


def generate_tasks(n: int, seed: int, difficulty: str) -> list[dict[str, Any]]:
    """`n` task rows; the `tool_calls` entry's generator."""
    if difficulty not in LEVELS:
        raise ValueError(f"difficulty must be one of {', '.join(LEVELS)}, got {difficulty!r}")
    return [_task(index, seed, difficulty) for index in range(n)]


def _task(index: int, seed: int, difficulty: str) -> dict[str, Any]:
    rng = random.Random(f"tool_calls:{seed}:{difficulty}:{index}")
    level = LEVELS[difficulty]
    row: dict[str, Any] = {"id": f"tool-calls-{difficulty}-{seed}-{index:05d}"}
    if index % 2 == 0:
        cities = rng.sample(CITIES, level.cities)
        ask = rng.choice(WEATHER_ASKS).format(cities=_listed(cities))
        row |= {"cities": cities}
        needed = ["get_weather"]
    else:
        start = rng.randint(0, 50)
        steps = [
            _step(rng, level, first=number == 0) for number in range(rng.randint(*level.steps))
        ]
        ask = rng.choice(COUNTER_ASKS).format(steps=", then ".join(_said(s) for s in steps))
        ask = ask[0].upper() + ask[1:]
        row |= {"initial_count": start, "expected_count": start + sum(steps), "steps": steps}
        needed = ["increment_counter", "get_counter_value"]
    schemas = ToolCallsServer.tool_schemas()
    offered = [s for s in schemas if level.all_tools or s.function.name in needed]
    return {
        **row,
        "difficulty": difficulty,
        "prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": ask}],
        "tools": [schema.model_dump(exclude_none=True) for schema in offered],
    }


def _step(rng: random.Random, level: Level, *, first: bool) -> int:
    amount = rng.randint(1, 20)
    return -amount if level.subtract and not first and rng.random() < 0.4 else amount


def _said(step: int) -> str:
    return f"add {step}" if step > 0 else f"subtract {-step}"


def _listed(cities: list[str]) -> str:
    return cities[0] if len(cities) == 1 else ", ".join(cities[:-1]) + f" and {cities[-1]}"
