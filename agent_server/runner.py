"""Runs rollouts: samples and groups, the concurrency limit and the bounded queue behind it,
batches, and results in order or as they finish.

At most `max_concurrency` episodes run; up to `max_queue` more wait for a slot. A request that
would overfill the queue is refused whole (`QueueFull`, which the app answers 503 with
`Retry-After`) before any of its samples starts, so a busy server answers "later", never with
failed rollouts.

Whatever happens inside an episode, the runner returns a `RolloutResult` for every sample it
was given, exactly once: a bug in RL Gym itself becomes `failed` with kind `internal_error`, a
sample of a batch the trainer cancelled becomes `failed` with kind `cancelled` (its session
closed, its partial trajectory kept), never a lost rollout or a crashed batch.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agent_server.clients import PolicyClient, ResourcesClient
from agent_server.episode import Episode
from agent_server.policy_control import PolicyControl
from agent_server.rollout_metrics import RolloutMetrics
from gym_core.http_client import HttpClient
from gym_core.metrics import ServiceMetrics
from gym_core.protocol import (
    Failure,
    RolloutResult,
    RolloutsRequest,
    SamplingParams,
    Task,
    new_group_id,
)
from gym_core.settings import AgentServerSettings

__all__ = ["Batch", "BatchRunning", "QueueFull", "RolloutRunner", "sample_seed"]

log = logging.getLogger("rl_gym.agent")


def sample_seed(seed: int, task_id: str, sample_index: int) -> int:
    """The seed one sample runs with, derived from the request's: the samples of a group
    differ (one seed for all would make them identical), and the same request gives the same
    seeds again."""
    digest = hashlib.sha256(f"{seed}:{task_id}:{sample_index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


class BatchRunning(Exception):
    """A batch with this id is running already."""


class QueueFull(Exception):
    """The request's samples would overfill the queue; nothing of it was started."""


@dataclass
class Batch:
    """The samples of one rollouts request, so that the trainer can cancel them."""

    id: str | None
    max_staleness: int | None = None
    samples: list[asyncio.Task[RolloutResult]] = field(default_factory=list)
    left: int = 0
    """Samples not finished yet; the batch's id is free again at 0."""
    started: set[asyncio.Task[Any]] = field(default_factory=set)
    """Samples whose coroutine has begun: only those can catch a cancellation (a task
    cancelled before its first step would end without a result)."""
    cancelled: bool = False

    def cancel(self) -> int:
        """Cancel every sample still running or waiting; how many there were (0 the second
        time: a sample closing its session is not interrupted again). A sample that has not
        begun yet sees `cancelled` when it does."""
        if self.cancelled:
            return 0
        self.cancelled = True
        left = [sample for sample in self.samples if not sample.done()]
        for sample in left:
            if sample in self.started:
                sample.cancel()
        return len(left)


class RolloutRunner:
    def __init__(
        self, settings: AgentServerSettings, http: HttpClient, metrics: ServiceMetrics
    ) -> None:
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._running = dict.fromkeys(settings.envs, 0)
        """Samples running, per environment."""
        self._admitted = dict.fromkeys(settings.envs, 0)
        """Samples running or waiting for a slot, per environment."""
        self.metrics = RolloutMetrics(metrics, settings.envs, self._running, self._admitted)
        self.capacity = settings.max_concurrency + settings.max_queue
        self._batches: dict[str, Batch] = {}
        self.control = PolicyControl(http, settings.policy_url)
        self.policy = PolicyClient(
            http,
            settings.policy_url,
            settings.policy_model,
            settings.policy_timeout_s,
            self.control,
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
        batch: Batch | None = None,
    ) -> RolloutResult:
        """One sample of `task`; it waits for a free slot under the concurrency limit."""
        group_id = group_id or new_group_id()
        route = self.settings.envs[task.env]
        settings = route.agent.sampling.merged(task.sampling).merged(sampling)
        if settings.seed is not None:
            seed = sample_seed(settings.seed, task.id, sample_index)
            settings = settings.model_copy(update={"seed": seed})
        episode = Episode(
            task=task,
            sample_index=sample_index,
            group_id=group_id,
            episode_id=f"{group_id}-{sample_index}",
            max_turns=route.agent.max_turns,
            run_tool_calls=route.agent.run_tool_calls,
            observe_stage=self.metrics.stage_observers[task.env],
            sampling=settings,
            policy=self.policy,
            resources=self.resources[task.env],
            max_staleness=batch.max_staleness if batch else None,
        )
        if batch is not None:
            batch.started.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            if batch is not None and batch.cancelled:
                raise asyncio.CancelledError  # cancelled before it began
            result = await self._run(episode)
        except asyncio.CancelledError:
            if batch is None or not batch.cancelled:
                raise
            this = asyncio.current_task()
            if this is not None and this.cancelling():
                this.uncancel()
            message = f"the trainer cancelled batch {batch.id!r}"
            result = episode.failed(Failure(kind="cancelled", message=message))
        self.metrics.record(result)
        return result

    async def _run(self, episode: Episode) -> RolloutResult:
        env = episode.task.env
        async with self._slots:
            self._running[env] += 1
            try:
                return await episode.run()
            except Exception as error:
                log.exception("rollout of task %s failed inside RL Gym", episode.task.id)
                message = f"{type(error).__name__}: {error}"
                return episode.failed(Failure(kind="internal_error", message=message))
            finally:
                self._running[env] -= 1

    def _admit(self, samples: collections.Counter[str]) -> None:
        """Take `samples` (a count per environment) into the queue, or refuse them all."""
        admitted = sum(self._admitted.values())
        if admitted + samples.total() > self.capacity:
            raise QueueFull(
                f"{admitted} rollouts are running or queued and {samples.total()} more would "
                f"overfill the queue (max_concurrency + max_queue = {self.capacity})"
            )
        for env, count in samples.items():
            self._admitted[env] += count

    def _release(self, env: str) -> None:
        self._admitted[env] -= 1

    async def rollout_admitted(
        self,
        task: Task,
        *,
        sample_index: int,
        group_id: str | None,
        sampling: SamplingParams | None,
    ) -> RolloutResult:
        """`rollout`, once the queue has room for it (else `QueueFull`)."""
        self._admit(collections.Counter({task.env: 1}))
        try:
            return await self.rollout(
                task, sample_index=sample_index, group_id=group_id, sampling=sampling
            )
        finally:
            self._release(task.env)

    def submit(self, request: RolloutsRequest) -> Batch:
        """Start every sample of the request (each waits for a slot); the batch is registered
        under its id, if it has one, so that it can be cancelled.

        Raises:
            BatchRunning: a batch of that id is still running.
            QueueFull: the samples would overfill the queue.
        """
        if request.batch_id is not None and request.batch_id in self._batches:
            raise BatchRunning(request.batch_id)
        tasks = collections.Counter(task.env for task in request.tasks)
        self._admit(
            collections.Counter({env: n * request.samples_per_task for env, n in tasks.items()})
        )
        batch = Batch(request.batch_id, request.max_staleness)
        if batch.id is not None:
            self._batches[batch.id] = batch
        for task in request.tasks:
            group_id = new_group_id()
            for sample_index in range(request.samples_per_task):
                coroutine = self.rollout(
                    task,
                    sample_index=sample_index,
                    group_id=group_id,
                    sampling=request.sampling,
                    batch=batch,
                )
                sample = asyncio.ensure_future(coroutine)
                sample.add_done_callback(functools.partial(self._sample_done, batch, task.env))
                batch.samples.append(sample)
        batch.left = len(batch.samples)
        return batch

    def _sample_done(self, batch: Batch, env: str, _: object) -> None:
        self._release(env)
        batch.left -= 1
        if batch.left == 0 and batch.id is not None and self._batches.get(batch.id) is batch:
            del self._batches[batch.id]

    def cancel(self, batch_id: str) -> int | None:
        """Cancel a running batch; None when no batch of that id is running."""
        batch = self._batches.get(batch_id)
        return None if batch is None else batch.cancel()

    @staticmethod
    async def results(batch: Batch) -> list[RolloutResult]:
        """Every sample of the batch, ordered by task then sample index. Cancelled (the client
        hung up), it cancels every sample: each closes its session."""
        return list(await asyncio.gather(*batch.samples))

    @staticmethod
    async def stream(batch: Batch) -> AsyncIterator[RolloutResult]:
        """Every sample of the batch, each as soon as it finishes.

        When the consumer stops listening, the rollouts still running are cancelled.
        """
        try:
            for finished in asyncio.as_completed(batch.samples):
                yield await finished
        finally:
            for sample in batch.samples:
                sample.cancel()
