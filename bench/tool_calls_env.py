"""Rollouts per second of the tool_calls environment against an instant scripted policy.

    .venv/bin/python -m bench.tool_calls_env [--tasks 100] [--samples 10]

Generated hard tasks (weather for three cities, counters of three to five steps), each
answered rightly by the scripted engine: one turn of tool calls, then a final answer, so a
rollout is two policy turns, three to six tool calls and a verify through the services. Prints
its figures; nothing here is asserted.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.scripted_rollouts import distinct_prompts, mean_reward, p50_ms, timed_rollouts
from environments.tool_calls.generate import generate_tasks
from tests.fixtures.scripted_rules import calls_then_done


def right_calls(row: dict[str, Any]) -> list[dict[str, Any]]:
    if "expected_count" in row:
        steps = [{"name": "increment_counter", "arguments": {"count": s}} for s in row["steps"]]
        return [*steps, {"name": "get_counter_value", "arguments": {}}]
    return [{"name": "get_weather", "arguments": {"city": city}} for city in row["cities"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=100, help="distinct generated hard tasks")
    parser.add_argument("--samples", type=int, default=10, help="samples per task")
    args = parser.parse_args()
    rows = distinct_prompts(
        [{**row, "env": "tool_calls"} for row in generate_tasks(args.tasks, 7, "hard")]
    )
    rules = calls_then_done((row["prompt"][-1]["content"], right_calls(row)) for row in rows)
    elapsed, results = timed_rollouts("tool_calls", rules, rows, args.samples, warm_up=2)
    calls = sum(int(r.metrics["num_tool_calls"]) for r in results)  # type: ignore[call-overload]
    print(
        f"tool_calls: {len(results)} rollouts ({len(rows)} hard tasks x {args.samples}), "
        f"{calls} tool calls in {elapsed:.2f}s: {len(results) / elapsed:.0f} rollouts/s, "
        f"{calls / elapsed:.0f} tool calls/s, episode p50 {p50_ms(results):.0f} ms, mean reward "
        f"{mean_reward(results):.2f}"
    )


if __name__ == "__main__":
    main()
