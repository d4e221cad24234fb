"""Tool use with per-session state: a weather lookup and a counter (see README.md).

Two kinds of task share one server, told apart by their fields as NeMo Gym's two tool-call
examples are: a task with `expected_count` is judged on the counter its session ends with; any
other task on whether the model looked the weather up (for every city in `cities`, when the
task lists them). The verifier reads the session's state, never the transcript, so text that
only claims a tool was called earns nothing.
"""

from __future__ import annotations

import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field

from resources_server import ResourcesServer, TaskFields, ToolError, Trajectory, Verdict, tool

__all__ = ["ToolCallsServer", "ToolCallsTask", "normalize_city", "weather_of"]

CONDITIONS = ("clear", "cloudy", "fog", "light rain", "heavy rain", "windy", "snow", "drizzle")
MAX_COUNT = 1_000_000_000
"""The largest step, start or expected value: the counter stays a small integer."""
Count = Annotated[int, Field(ge=-MAX_COUNT, le=MAX_COUNT)]


class ToolCallsTask(TaskFields):
    initial_count: Count = 0
    """The counter's value when the session starts."""
    expected_count: Count | None = None
    """Set: the reward is 1 when the counter ends at this value (the counter task)."""
    cities: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    """Weather task: cities the model must look up; empty means any lookup will do (as in
    NeMo Gym's rows, which name none)."""


@dataclass
class Session:
    counter: int
    calls: Counter[str] = field(default_factory=Counter)
    """Successful calls, by tool."""
    cities: set[str] = field(default_factory=set)
    """Cities looked up, normalized."""


def normalize_city(city: str) -> str:
    """`"  San  Francisco "` and `"san francisco"` are one city."""
    return " ".join(city.lower().split())


def weather_of(city: str) -> dict[str, Any]:
    """Made-up but stable weather: the same city always gets the same report."""
    seed = zlib.crc32(normalize_city(city).encode())
    return {
        "city": city,
        "conditions": CONDITIONS[seed % len(CONDITIONS)],
        "temperature_c": (seed >> 4) % 35 - 5,
        "humidity_percent": 20 + (seed >> 10) % 75,
    }


class ToolCallsServer(ResourcesServer[ToolCallsTask, Session]):
    """Reward 1 when the counter ends right (counter tasks) or the weather was looked up."""

    task_model = ToolCallsTask

    async def seed(self, task: ToolCallsTask) -> Session:
        return Session(counter=task.initial_count)

    @tool
    async def get_weather(self, state: Session, city: str) -> dict[str, Any]:
        """Get the current weather of a city.

        Args:
            city: The city's name, e.g. "San Francisco".
        """
        if not city.strip():
            raise ToolError("city is empty: name a city, e.g. 'San Francisco'")
        state.calls["get_weather"] += 1
        state.cities.add(normalize_city(city))
        return weather_of(city)

    @tool
    async def increment_counter(self, state: Session, count: int) -> dict[str, bool]:
        """Add a number to the counter.

        Args:
            count: How much to add (negative to subtract).
        """
        if abs(count) > MAX_COUNT:
            raise ToolError(f"count must be between -{MAX_COUNT} and {MAX_COUNT}, got {count}")
        state.calls["increment_counter"] += 1
        state.counter += count
        return {"success": True}

    @tool
    async def get_counter_value(self, state: Session) -> dict[str, int]:
        """Read the counter's current value."""
        state.calls["get_counter_value"] += 1
        return {"count": state.counter}

    async def verify(self, task: ToolCallsTask, trajectory: Trajectory, state: Session) -> Verdict:
        metrics: dict[str, Any] = {"tool_calls_made": dict(state.calls)}
        if task.expected_count is not None:
            correct = state.counter == task.expected_count
            metrics |= {"check": "counter", "counter": state.counter}
        else:
            wanted = {normalize_city(city) for city in task.cities}
            missing = sorted(wanted - state.cities)
            correct = state.calls["get_weather"] > 0 and not missing
            metrics |= {"check": "weather_looked_up", "cities_missing": missing}
        return Verdict(reward=float(correct), metrics=metrics)
