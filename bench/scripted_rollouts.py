"""Rollouts of one environment against the instant scripted engine, timed: what the
environment benchmarks share."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from gym_core.protocol import RolloutResult
from gym_core.rollout_client import AsyncRolloutClient
from tests.conftest import gym_stack, scripted_engine

__all__ = ["distinct_prompts", "mean_reward", "p50_ms", "timed_rollouts"]


def distinct_prompts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose last message no other row shares, so that one rule answers each."""
    prompts = [row["prompt"][-1]["content"] for row in rows]
    return [row for row, prompt in zip(rows, prompts, strict=True) if prompts.count(prompt) == 1]


async def _rollouts(endpoint: str, rows: list[dict[str, Any]], samples: int) -> list[RolloutResult]:
    async with AsyncRolloutClient(endpoint) as client:
        return await client.rollouts(rows, samples_per_task=samples)


def timed_rollouts(
    env: str, rules: list[dict[str, Any]], rows: list[dict[str, Any]], samples: int, warm_up: int
) -> tuple[float, list[RolloutResult]]:
    """Seconds to run `samples` of every row through a stack of `env` whose engine follows
    `rules`, after `warm_up` rows once, and the results."""
    with scripted_engine(rules) as engine, gym_stack([env], [engine]) as running:
        asyncio.run(_rollouts(running.endpoint, rows[:warm_up], 1))
        started = time.perf_counter()
        results = asyncio.run(_rollouts(running.endpoint, rows, samples))
        return time.perf_counter() - started, results


def p50_ms(results: list[RolloutResult]) -> float:
    return statistics.median(r.timing.total_s for r in results) * 1000


def mean_reward(results: list[RolloutResult]) -> float:
    return statistics.mean(r.reward or 0.0 for r in results)
