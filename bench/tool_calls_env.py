"""Rollouts per second of the tool_calls environment against an instant scripted policy.

    .venv/bin/python -m bench.tool_calls_env [--tasks 100] [--samples 10]

Generated hard tasks (weather for three cities, counters of three to five steps), each
answered rightly by the scripted engine: one turn of tool calls, then a final answer, so a
rollout is two policy turns, three to six tool calls and a verify through the services. Prints
its figures; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from typing import Any

from environments.tool_calls.generate import generate_tasks
from gym_core.protocol import RolloutResult
from gym_core.rollout_client import AsyncRolloutClient
from tests.conftest import gym_stack, scripted_engine


def right_calls(row: dict[str, Any]) -> list[dict[str, Any]]:
    if "expected_count" in row:
        steps = [{"name": "increment_counter", "arguments": {"count": s}} for s in row["steps"]]
        return [*steps, {"name": "get_counter_value", "arguments": {}}]
    return [{"name": "get_weather", "arguments": {"city": city}} for city in row["cities"]]


def rules(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    made = [
        {
            "role": "user",
            "match": f"^{re.escape(row['prompt'][-1]['content'])}$",
            "tool_calls": right_calls(row),
        }
        for row in rows
    ]
    return [*made, {"role": "tool", "reply": "Done."}]


async def run(endpoint: str, rows: list[dict[str, Any]], samples: int) -> list[RolloutResult]:
    async with AsyncRolloutClient(endpoint) as client:
        return await client.rollouts(rows, samples_per_task=samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100, help="distinct generated hard tasks")
    parser.add_argument("--samples", type=int, default=10, help="samples per task")
    args = parser.parse_args()
    rows = [{**row, "env": "tool_calls"} for row in generate_tasks(args.tasks, 7, "hard")]
    prompts = [row["prompt"][-1]["content"] for row in rows]
    rows = [row for row, prompt in zip(rows, prompts, strict=True) if prompts.count(prompt) == 1]
    with scripted_engine(rules(rows)) as engine, gym_stack(["tool_calls"], [engine]) as running:
        asyncio.run(run(running.endpoint, rows[:2], 1))  # warm up
        started = time.perf_counter()
        results = asyncio.run(run(running.endpoint, rows, args.samples))
        elapsed = time.perf_counter() - started
    calls = sum(int(r.metrics["num_tool_calls"]) for r in results)  # type: ignore[call-overload]
    p50 = statistics.median(r.timing.total_s for r in results) * 1000
    print(
        f"tool_calls: {len(results)} rollouts ({len(rows)} hard tasks x {args.samples}), "
        f"{calls} tool calls in {elapsed:.2f}s: {len(results) / elapsed:.0f} rollouts/s, "
        f"{calls / elapsed:.0f} tool calls/s, episode p50 {p50:.0f} ms, mean reward "
        f"{statistics.mean(r.reward or 0.0 for r in results):.2f}"
    )


if __name__ == "__main__":
    main()
