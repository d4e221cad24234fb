"""The numbers a collection of rollouts is judged by: mean reward, pass@k, failures by kind.

A rollout passes when its reward is at least `PASS_REWARD`. pass@k is the unbiased estimator
of Chen et al. 2021 (https://arxiv.org/abs/2107.03374, eq. 1) averaged over tasks. Both are
computed over scored rollouts only: a failed rollout (an engine or a sandbox broke) says nothing
about the policy, so it is counted apart, never averaged in as a wrong answer.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable

from pydantic import BaseModel

from gym_core.protocol import RolloutResult

__all__ = ["PASS_REWARD", "RolloutStats", "pass_at_k", "summarize", "summarize_by_env"]

PASS_REWARD = 1.0


class RolloutStats(BaseModel):
    rollouts: int
    tasks: int
    mean_reward: float | None
    """Over rollouts that were scored (completed or truncated)."""
    pass_at_k: dict[int, float]
    """k -> pass@k over the tasks with a scored rollout, for k = 1 and the largest number of
    scored samples every such task has."""
    unscored_tasks: int = 0
    """Tasks whose every rollout failed: left out of pass@k."""
    statuses: dict[str, int]
    failures: dict[str, int]
    """Failed rollouts by `failure.kind`."""


def pass_at_k(samples: int, passed: int, k: int) -> float:
    """The chance that at least one of k samples drawn from `samples` passes."""
    if samples - passed < k:
        return 1.0
    return 1.0 - math.comb(samples - passed, k) / math.comb(samples, k)


def summarize(results: Iterable[RolloutResult]) -> RolloutStats:
    results = list(results)
    scored = [r for r in results if r.status != "failed" and r.reward is not None]
    tasks = {r.task_id for r in results}
    by_task: dict[str, list[RolloutResult]] = defaultdict(list)
    for result in scored:
        by_task[result.task_id].append(result)
    pass_rates: dict[int, float] = {}
    if by_task:
        ks = {1, min(len(samples) for samples in by_task.values())}
        for k in sorted(ks):
            rates = [
                pass_at_k(len(samples), sum(_passed(s) for s in samples), k)
                for samples in by_task.values()
            ]
            pass_rates[k] = sum(rates) / len(rates)
    return RolloutStats(
        rollouts=len(results),
        tasks=len(tasks),
        unscored_tasks=len(tasks) - len(by_task),
        mean_reward=sum(r.reward or 0.0 for r in scored) / len(scored) if scored else None,
        pass_at_k=pass_rates,
        statuses=dict(Counter(r.status for r in results)),
        failures=dict(Counter(r.failure.kind for r in results if r.failure is not None)),
    )


def summarize_by_env(results: Iterable[RolloutResult]) -> dict[str, RolloutStats]:
    """The same numbers for each environment of a mixed collection, by name."""
    by_env: dict[str, list[RolloutResult]] = defaultdict(list)
    for result in results:
        by_env[result.env].append(result)
    return {env: summarize(by_env[env]) for env in sorted(by_env)}


def _passed(result: RolloutResult) -> bool:
    return (result.reward or 0.0) >= PASS_REWARD
