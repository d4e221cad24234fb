"""The baseline of a quality card: how the configured policy does on the example tasks.

It runs the same machinery as `gym rollout ENV`: the services started by the local launcher
and the example tasks collected through the rollout endpoint. The policy is the
configuration's: the embedded CPU model by default, or the engines given with `--policy-url`.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gym_core.collect import collect
from gym_core.config import GymConfig
from gym_core.rollout_client import AsyncRolloutClient
from gym_core.rollout_stats import RolloutStats, summarize
from gym_core.tasks_file import load_tasks

__all__ = ["Baseline", "measure_baseline"]

CONCURRENCY = 8


@dataclass(frozen=True)
class Baseline:
    mean_reward: float | None
    """Over the rollouts that were scored; None when none was."""
    policy: str
    """Which policy answered, as the card names it."""
    failed: int
    """Rollouts that failed (and so have no reward)."""


def measure_baseline(config: GymConfig, env: str) -> Baseline:
    """Roll out every example task of `env` once. Call with no event loop running."""
    from gym_core.launch.local import LocalLauncher  # imports the services

    tasks = load_tasks(config.envs[env].example_path(), env=env)
    # a free port, as `gym rollout` takes: whatever answers on the default one, publishing works
    config = config.model_copy(update={"serve": config.serve.model_copy(update={"port": 0})})
    with LocalLauncher(config, [env]) as launcher, tempfile.TemporaryDirectory() as scratch:
        running = launcher.start()

        async def run() -> RolloutStats:
            await launcher.wait_ready()
            async with AsyncRolloutClient(running.endpoint, token=config.serve.token) as client:
                collection = await collect(
                    client, tasks, Path(scratch) / "baseline.jsonl", concurrency=CONCURRENCY
                )
            return summarize(collection.results)

        stats = asyncio.run(run())
    return Baseline(
        mean_reward=stats.mean_reward,
        policy=policy_name(config),
        failed=sum(stats.failures.values()),
    )


def policy_name(config: GymConfig) -> str:
    if config.policy.engine_urls:
        return config.policy.model or f"engine at {config.policy.engine_urls[0]}"
    return config.policy.model or "embedded default model"
