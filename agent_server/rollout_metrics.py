"""What a training run watches on the agent server, per environment: rollouts running and
queued, results by status and failure kind, rewards, and how long each stage of an episode
takes (one policy generation, one tool call, the verification, one environment turn).

The running and queued counts are plain numbers the runner keeps; they are read only when
`/metrics` is scraped, so the hot path pays a dictionary update for them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import get_args

from prometheus_client import Counter, Histogram

from agent_server.episode import Stage, StageObserver
from gym_core.metrics import ServiceMetrics
from gym_core.protocol import RolloutResult, RolloutStatus

__all__ = ["REWARD_BUCKETS", "RolloutMetrics"]

REWARD_BUCKETS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
"""Rewards are most often in [0, 1]; the sum and count give the mean whatever their range.
(No negative bound: `prometheus_client` leaves out a histogram's sum when it has one.)"""


class RolloutMetrics:
    """The agent server's per-environment series, in the service's registry."""

    def __init__(
        self,
        metrics: ServiceMetrics,
        envs: Iterable[str],
        running: Mapping[str, int],
        admitted: Mapping[str, int],
    ) -> None:
        """`running` and `admitted` (running or waiting for a slot) are the runner's counts
        per environment."""
        self._metrics = metrics
        running_gauge = metrics.gauge(
            "rollouts_running", "Rollouts whose episode runs now (each holds a slot).", ("env",)
        )
        queued_gauge = metrics.gauge(
            "rollouts_queued", "Rollouts accepted and waiting for a free slot.", ("env",)
        )
        metrics.gauge(
            "rollouts_admitted",
            "Rollouts running or queued, against max_concurrency + max_queue.",
        ).set_function(lambda: sum(admitted.values()))
        results = metrics.counter("rollouts", "Rollouts finished, by status.", ("env", "status"))
        self._failures = metrics.counter(
            "rollout_failures", "Failed rollouts, by kind of failure.", ("env", "kind")
        )
        rewards = metrics.histogram(
            "rollout_reward", "Rewards of verified rollouts.", ("env",), REWARD_BUCKETS
        )
        stages = metrics.histogram(
            "stage_seconds",
            "Time of one call of an episode's stage: policy (a generation), tool (a tool "
            "call), verify, env_turn (the environment's reply in a dialogue).",
            ("env", "stage"),
        )
        self._results: dict[str, dict[RolloutStatus, Counter]] = {}
        self._rewards: dict[str, Histogram] = {}
        self.stage_observers: dict[str, StageObserver] = {}
        """Per environment, what its episodes tell the time of each stage call."""
        for env in envs:
            running_gauge.labels(env).set_function(functools.partial(running.__getitem__, env))
            queued_gauge.labels(env).set_function(_difference(admitted, running, env))
            self._results[env] = {
                status: results.labels(env, status) for status in get_args(RolloutStatus)
            }
            self._rewards[env] = rewards.labels(env)
            self.stage_observers[env] = _observer(
                {stage: stages.labels(env, stage) for stage in get_args(Stage)}
            )

    def record(self, result: RolloutResult) -> None:
        """Count a finished rollout: its status, failure kind and reward."""
        self._results[result.env][result.status].inc()
        if result.failure is not None:
            self._failures.labels(result.env, result.failure.kind).inc()
            self._metrics.count_failure(result.failure.kind)
        if result.reward is not None:
            self._rewards[result.env].observe(result.reward)


def _observer(by_stage: dict[Stage, Histogram]) -> StageObserver:
    def observe(stage: Stage, seconds: float) -> None:
        by_stage[stage].observe(seconds)

    return observe


def _difference(
    counts: Mapping[str, int], less: Mapping[str, int], env: str
) -> Callable[[], float]:
    """`counts[env] - less[env]` as it is when called (a gauge's value when scraped)."""
    return lambda: counts[env] - less[env]
