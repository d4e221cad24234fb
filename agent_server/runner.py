"""Runs rollouts: samples and groups, the concurrency limit, and results in order or as they finish.

Whatever happens inside an episode, the runner returns a `RolloutResult` for every sample it
was given: a bug in RL Gym itself becomes `failed` with kind `internal_error`, never a lost
rollout or a crashed batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from agent_server.clients import PolicyClient, ResourcesClient
from agent_server.episode import Episode
from gym_core.http_client import HttpClient
from gym_core.metrics import ServiceMetrics
from gym_core.protocol import Failure, RolloutResult, SamplingParams, Task, new_group_id
from gym_core.settings import AgentServerSettings

__all__ = ["RolloutRunner"]

log = logging.getLogger("rl_gym.agent")


class RolloutRunner:
    def __init__(
        self, settings: AgentServerSettings, http: HttpClient, metrics: ServiceMetrics
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._running = 0
        self.policy = PolicyClient(
            http, settings.policy_url, settings.policy_model, settings.policy_timeout_s
        )
        self.resources = {
            env: ResourcesClient(http, route.url, settings.resources_timeout_s)
            for env, route in settings.envs.items()
        }

    async def rollout(
        self,
        task: Task,
        *,
        sample_index: int = 0,
        group_id: str | None = None,
        sampling: SamplingParams | None = None,
    ) -> RolloutResult:
        """One sample of `task`; it waits for a free slot under the concurrency limit."""
        group_id = group_id or new_group_id()
        route = self.settings.envs[task.env]
        episode = Episode(
            task=task,
            sample_index=sample_index,
            group_id=group_id,
            episode_id=f"{group_id}-{sample_index}",
            max_turns=route.agent.max_turns,
            sampling=route.agent.sampling.merged(task.sampling).merged(sampling),
            policy=self.policy,
            resources=self.resources[task.env],
        )
        async with self._slots:
            self._running += 1
            self.metrics.set_gauge("rollouts_running", self._running)
            try:
                result = await episode.run()
            except Exception as error:
                log.exception("rollout of task %s failed inside RL Gym", task.id)
                failure = Failure(kind="internal_error", message=f"{type(error).__name__}: {error}")
                result = RolloutResult(
                    task_id=task.id,
                    env=task.env,
                    group_id=group_id,
                    sample_index=sample_index,
                    messages=episode.messages,
                    turns=episode.turns,
                    status="failed",
                    failure=failure,
                )
            finally:
                self._running -= 1
                self.metrics.set_gauge("rollouts_running", self._running)
        if result.failure is not None:
            self.metrics.count_failure(result.failure.kind)
        return result

    async def rollouts(
        self, tasks: list[Task], samples_per_task: int, sampling: SamplingParams | None
    ) -> list[RolloutResult]:
        """Every sample of every task, ordered by task then sample index."""
        return list(await asyncio.gather(*self._start(tasks, samples_per_task, sampling)))

    async def stream(
        self, tasks: list[Task], samples_per_task: int, sampling: SamplingParams | None
    ) -> AsyncIterator[RolloutResult]:
        """Every sample of every task, each as soon as it finishes.

        When the consumer stops listening, the rollouts still running are cancelled.
        """
        pending = self._start(tasks, samples_per_task, sampling)
        try:
            for finished in asyncio.as_completed(pending):
                yield await finished
        finally:
            for future in pending:
                future.cancel()

    def _start(
        self, tasks: list[Task], samples_per_task: int, sampling: SamplingParams | None
    ) -> list[asyncio.Task[RolloutResult]]:
        started = []
        for task in tasks:
            group_id = new_group_id()
            for sample_index in range(samples_per_task):
                coroutine = self.rollout(
                    task, sample_index=sample_index, group_id=group_id, sampling=sampling
                )
                started.append(asyncio.ensure_future(coroutine))
        return started
