"""How fast the calendar environment's parts are: generating, solving, checking, and whole
multi-turn episodes through the services against an instant scripted policy.

    .venv/bin/python -m bench.calendar_env [--tasks 300] [--rollouts 200]

Prints its figures; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from typing import Any

import orjson

from environments.calendar.checks import check, read_calendar
from environments.calendar.generate import LEVELS, generate_chat_tasks, solved_calendar
from environments.calendar.schedule import Requirements, WorkingHours
from environments.calendar.solver import solve
from environments.calendar.task import CalendarTask
from gym_core.rollout_client import AsyncRolloutClient
from tests.conftest import gym_stack, scripted_engine


def printed(requirements: Requirements) -> str:
    entries = solved_calendar(requirements)
    return "Here is the updated calendar:\n```json\n" + orjson.dumps(entries).decode() + "\n```"


def bench_parts(count: int) -> None:
    hours = WorkingHours()
    for difficulty in LEVELS:
        started = time.perf_counter()
        rows = generate_chat_tasks(count, 0, difficulty)
        generate_s = time.perf_counter() - started
        tasks = [CalendarTask.model_validate({**row, "env": "calendar"}) for row in rows]
        solve_ms = []
        for task in tasks:
            started = time.perf_counter()
            solve(task.requirements(hours))
            solve_ms.append((time.perf_counter() - started) * 1e3)
        answers = [(printed(task.requirements(hours)), task.requirements(hours)) for task in tasks]
        started = time.perf_counter()
        for text, requirements in answers:
            check(read_calendar(text), requirements)
        check_us = (time.perf_counter() - started) / len(answers) * 1e6
        print(
            f"{difficulty:>6}: generate {count / generate_s:7.0f} tasks/s | solve mean "
            f"{statistics.mean(solve_ms):.2f} ms, max {max(solve_ms):.2f} ms | read+check "
            f"{check_us:.0f} us per calendar"
        )


def distinct_tasks(count: int) -> list[dict[str, Any]]:
    """Hard tasks none of whose messages repeat, so a rule per message answers it rightly."""
    chosen: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in generate_chat_tasks(10 * count, 1, "hard"):
        texts = [request["text"] for request in row["requests"]]
        if len(set(texts)) == len(texts) and seen.isdisjoint(texts):
            chosen.append({**row, "env": "calendar"})
            seen.update(texts)
        if len(chosen) == count:
            break
    return chosen


def gold_rules(tasks: list[CalendarTask]) -> list[dict[str, Any]]:
    """A right calendar for each message of each task."""
    rules = []
    for task in tasks:
        for answered, request in enumerate(task.requests, start=1):
            reply = printed(task.requirements_after(answered, WorkingHours()))
            rules.append({"role": "user", "match": f"^{re.escape(request.text)}$", "reply": reply})
    return rules


async def run_rollouts(
    endpoint: str, rows: list[dict[str, Any]], samples: int
) -> tuple[float, list[Any]]:
    async with AsyncRolloutClient(endpoint) as client:
        started = time.perf_counter()
        results = await client.rollouts(rows, samples_per_task=samples)
        return time.perf_counter() - started, results


def bench_rollouts(count: int) -> None:
    """Whole hard conversations: ten tasks, `count // 10` samples each, every message answered
    with a right calendar (few tasks keep the scripted engine's rule scan short)."""
    rows = distinct_tasks(10)
    tasks = [CalendarTask.model_validate(row) for row in rows]
    samples = max(1, count // len(rows))
    with scripted_engine(gold_rules(tasks)) as engine, gym_stack(["calendar"], [engine]) as running:
        elapsed, results = asyncio.run(run_rollouts(running.endpoint, rows, samples))
    turns = sum(len(result.turns) for result in results)
    rewards = statistics.mean(result.reward or 0.0 for result in results)
    print(
        f"rollouts: {len(results)} hard conversations, {turns} policy turns in {elapsed:.2f}s: "
        f"{len(results) / elapsed:.1f} rollouts/s, {turns / elapsed:.0f} turns/s "
        f"(policy server + scripted engine + agent + respond), mean reward {rewards:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=300, help="tasks per difficulty")
    parser.add_argument("--rollouts", type=int, default=200, help="0 skips the services")
    args = parser.parse_args()
    bench_parts(args.tasks)
    if args.rollouts:
        bench_rollouts(args.rollouts)


if __name__ == "__main__":
    main()
