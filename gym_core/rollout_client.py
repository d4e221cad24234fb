"""The Python client a trainer uses: send tasks to the rollout endpoint, get trajectories back.

    from gym_core import RolloutClient

    client = RolloutClient("http://127.0.0.1:8700")
    results = client.rollouts(tasks, samples_per_task=8)   # one GRPO group of 8 per task
    batch = client.groups_with_signal(tasks, n_groups=16, samples_per_task=8)  # DAPO-style
    client.set_policy_version(step)                        # after each optimizer step

`AsyncRolloutClient` is the same for code that already runs an event loop.

A batch in which every sample failed at the policy (the engine is down) raises
`ServiceFailed` with status 503 rather than handing the trainer a batch of failures.

A busy agent server (its queue full) answers 429 or 503 with `Retry-After`: the client waits
that long and asks again, for as long as its `timeout_s`, so a trainer that sends more than
the server takes is slowed down, never failed.

No rollout is lost when the agent server serving a request goes away mid-request (say, its
replica on a cluster died): every sample not received yet comes back `failed` with kind
`replica_lost`, for the trainer to run again. An endpoint that cannot be reached at all is an
error, as before.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncGenerator, Coroutine, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from gym_core.errors import ServiceError, lost_in_flight
from gym_core.http_client import DEFAULT_MAX_CONNECTIONS, HttpClient
from gym_core.protocol import (
    CancelledBatch,
    EnvInfo,
    Failure,
    PolicyState,
    RolloutResult,
    RolloutsResponse,
    SamplingParams,
    Task,
    new_group_id,
)
from gym_core.signal_sampling import SignalBatch, collect_groups_with_signal

__all__ = ["AsyncRolloutClient", "RolloutClient"]

DEFAULT_ROLLOUT_TIMEOUT_S = 3600.0
"""A whole batch may take long; the bound is there so a dead server is noticed."""
DEFAULT_PAUSE_WAIT_S = 600.0
"""How long `pause_policy` waits for running generations to finish."""

TaskLike = Task | Mapping[str, Any]
SamplingLike = SamplingParams | Mapping[str, Any] | None
T = TypeVar("T")


class AsyncRolloutClient:
    def __init__(
        self,
        endpoint: str,
        *,
        token: str | None = None,
        timeout_s: float = DEFAULT_ROLLOUT_TIMEOUT_S,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        """`max_connections` bounds the requests in flight at once (one each)."""
        self.endpoint = endpoint.rstrip("/")
        self._http = HttpClient(
            timeout_s=timeout_s,
            token=token,
            max_busy_wait_s=timeout_s,
            max_connections=max_connections,
        )

    async def rollouts(
        self,
        tasks: Iterable[TaskLike],
        samples_per_task: int = 1,
        sampling: SamplingLike = None,
        *,
        batch_id: str | None = None,
        max_staleness: int | None = None,
    ) -> list[RolloutResult]:
        """Every sample of every task, ordered by task then sample index.

        `batch_id` names the batch so that `cancel_batch` can end it; with `max_staleness`, an
        episode whose turns would span more than that many policy versions ends `stale`.
        """
        answer = await self.batch(
            tasks, samples_per_task, sampling, batch_id=batch_id, max_staleness=max_staleness
        )
        return answer.results

    async def batch(
        self,
        tasks: Iterable[TaskLike],
        samples_per_task: int = 1,
        sampling: SamplingLike = None,
        *,
        batch_id: str | None = None,
        max_staleness: int | None = None,
    ) -> RolloutsResponse:
        """Like `rollouts`, with the per-group summaries (which groups carry signal)."""
        validated = [_validated(task) for task in tasks]
        body = _batch(validated, samples_per_task, sampling, False, batch_id, max_staleness)
        try:
            answer = await self._http.request_bytes("POST", f"{self.endpoint}/v1/rollouts", body)
        except ServiceError as error:
            if not lost_in_flight(error):
                raise
            return RolloutsResponse(results=list(_lost(validated, samples_per_task, [], error)))
        return RolloutsResponse.model_validate_json(answer)

    async def groups_with_signal(
        self,
        tasks: Sequence[TaskLike],
        n_groups: int,
        samples_per_task: int,
        sampling: SamplingLike = None,
        *,
        seed: int | None = None,
        max_rounds: int = 8,
        max_staleness: int | None = None,
    ) -> SignalBatch:
        """`n_groups` groups whose rewards differ, drawn at random from `tasks` (dynamic
        sampling, as DAPO does): groups whose rewards are all equal, or whose samples all
        failed, are dropped and counted, and more tasks are drawn, for at most `max_rounds`
        requests. Fewer groups come back only when the tasks or the rounds run out."""
        validated = [_validated(task) for task in tasks]

        async def run(batch: list[Task]) -> RolloutsResponse:
            return await self.batch(batch, samples_per_task, sampling, max_staleness=max_staleness)

        return await collect_groups_with_signal(
            validated, n_groups, run, seed=seed, max_rounds=max_rounds
        )

    async def cancel_batch(self, batch_id: str) -> CancelledBatch:
        """End a running batch: its samples still running come back `cancelled`."""
        answer = await self._http.post(f"{self.endpoint}/v1/rollouts/{batch_id}/cancel")
        return CancelledBatch.model_validate(answer)

    async def policy(self) -> PolicyState:
        """The policy's version, pause state, generations in flight and engines' health."""
        return PolicyState.model_validate(await self._http.get(f"{self.endpoint}/v1/policy"))

    async def set_policy_version(self, version: int) -> PolicyState:
        """Every turn generated from now on records `version` (call it after each update)."""
        return await self._policy_post("version", {"version": version})

    async def pause_policy(
        self, timeout_s: float = DEFAULT_PAUSE_WAIT_S, *, deadline_s: float | None = None
    ) -> PolicyState:
        """Hold new generations; returns once the running ones finished (or `timeout_s`).
        Time spent paused never counts against a rollout's timeouts. With `deadline_s`, the
        pause lifts itself after that many seconds unless resumed first."""
        body: dict[str, Any] = {"timeout_s": timeout_s}
        if deadline_s is not None:
            body["deadline_s"] = deadline_s
        return await self._policy_post("pause", body)

    async def resume_policy(self, version: int | None = None) -> PolicyState:
        """Let generations go on, optionally under a new `version`."""
        return await self._policy_post("resume", {"version": version})

    async def _policy_post(self, action: str, body: dict[str, Any]) -> PolicyState:
        answer = await self._http.post(f"{self.endpoint}/v1/policy/{action}", body)
        return PolicyState.model_validate(answer)

    async def stream(
        self,
        tasks: Iterable[TaskLike],
        samples_per_task: int = 1,
        sampling: SamplingLike = None,
        *,
        batch_id: str | None = None,
        max_staleness: int | None = None,
    ) -> AsyncGenerator[RolloutResult, None]:
        """Every sample of every task, each as soon as it finishes."""
        validated = [_validated(task) for task in tasks]
        body = _batch(validated, samples_per_task, sampling, True, batch_id, max_staleness)
        received: list[RolloutResult] = []
        try:
            async for line in self._http.stream_lines(f"{self.endpoint}/v1/rollouts", body):
                result = RolloutResult.model_validate_json(line)
                received.append(result)
                yield result
        except ServiceError as error:
            if not lost_in_flight(error):
                raise
            for result in _lost(validated, samples_per_task, received, error):
                yield result

    async def rollout(
        self,
        task: TaskLike,
        *,
        sample_index: int = 0,
        group_id: str | None = None,
        sampling: SamplingLike = None,
    ) -> RolloutResult:
        """One sample of one task."""
        validated = _validated(task)
        body = {
            "task": _task(validated),
            "sample_index": sample_index,
            "group_id": group_id,
            "sampling": _sampling(sampling),
        }
        try:
            answer = await self._http.post(f"{self.endpoint}/v1/rollout", body)
        except ServiceError as error:
            if not lost_in_flight(error):
                raise
            return _lost_rollout(validated, sample_index, group_id or new_group_id(), error)
        return RolloutResult.model_validate(answer)

    async def envs(self) -> list[EnvInfo]:
        answer = await self._http.get(f"{self.endpoint}/v1/envs")
        return [EnvInfo.model_validate(entry) for entry in answer]

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> AsyncRolloutClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class RolloutClient:
    """The blocking client. It runs its own event loop in a background thread, so it works
    from plain scripts and from notebooks that already have a loop."""

    def __init__(
        self,
        endpoint: str,
        *,
        token: str | None = None,
        timeout_s: float = DEFAULT_ROLLOUT_TIMEOUT_S,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._client = AsyncRolloutClient(endpoint, token=token, timeout_s=timeout_s)

    def rollouts(
        self,
        tasks: Iterable[TaskLike],
        samples_per_task: int = 1,
        sampling: SamplingLike = None,
        *,
        batch_id: str | None = None,
        max_staleness: int | None = None,
    ) -> list[RolloutResult]:
        return self._run(
            self._client.rollouts(
                tasks, samples_per_task, sampling, batch_id=batch_id, max_staleness=max_staleness
            )
        )

    def batch(
        self,
        tasks: Iterable[TaskLike],
        samples_per_task: int = 1,
        sampling: SamplingLike = None,
        *,
        batch_id: str | None = None,
        max_staleness: int | None = None,
    ) -> RolloutsResponse:
        return self._run(
            self._client.batch(
                tasks, samples_per_task, sampling, batch_id=batch_id, max_staleness=max_staleness
            )
        )

    def groups_with_signal(
        self,
        tasks: Sequence[TaskLike],
        n_groups: int,
        samples_per_task: int,
        sampling: SamplingLike = None,
        *,
        seed: int | None = None,
        max_rounds: int = 8,
        max_staleness: int | None = None,
    ) -> SignalBatch:
        return self._run(
            self._client.groups_with_signal(
                tasks,
                n_groups,
                samples_per_task,
                sampling,
                seed=seed,
                max_rounds=max_rounds,
                max_staleness=max_staleness,
            )
        )

    def cancel_batch(self, batch_id: str) -> CancelledBatch:
        return self._run(self._client.cancel_batch(batch_id))

    def policy(self) -> PolicyState:
        return self._run(self._client.policy())

    def set_policy_version(self, version: int) -> PolicyState:
        return self._run(self._client.set_policy_version(version))

    def pause_policy(
        self, timeout_s: float = DEFAULT_PAUSE_WAIT_S, *, deadline_s: float | None = None
    ) -> PolicyState:
        return self._run(self._client.pause_policy(timeout_s, deadline_s=deadline_s))

    def resume_policy(self, version: int | None = None) -> PolicyState:
        return self._run(self._client.resume_policy(version))

    def stream(
        self,
        tasks: Iterable[TaskLike],
        samples_per_task: int = 1,
        sampling: SamplingLike = None,
        *,
        batch_id: str | None = None,
        max_staleness: int | None = None,
    ) -> Iterator[RolloutResult]:
        stream = self._client.stream(
            tasks, samples_per_task, sampling, batch_id=batch_id, max_staleness=max_staleness
        )
        try:
            while True:
                try:
                    yield self._run(stream.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self._run(stream.aclose())

    def rollout(
        self,
        task: TaskLike,
        *,
        sample_index: int = 0,
        group_id: str | None = None,
        sampling: SamplingLike = None,
    ) -> RolloutResult:
        return self._run(
            self._client.rollout(
                task, sample_index=sample_index, group_id=group_id, sampling=sampling
            )
        )

    def envs(self) -> list[EnvInfo]:
        return self._run(self._client.envs())

    def close(self) -> None:
        if self._loop.is_running():
            self._run(self._client.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> RolloutClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()


def _validated(task: TaskLike) -> Task:
    return task if isinstance(task, Task) else Task.model_validate(dict(task))


def _task(task: TaskLike) -> dict[str, Any]:
    return _validated(task).model_dump(mode="json", exclude_none=True)


def _lost(
    tasks: list[Task], samples_per_task: int, received: list[RolloutResult], error: ServiceError
) -> Iterator[RolloutResult]:
    """A `replica_lost` result for every sample of the batch that was not received, in the
    group its task's other samples got."""
    left = Counter((task.id, index) for task in tasks for index in range(samples_per_task))
    left.subtract((result.task_id, result.sample_index) for result in received)
    groups = {result.task_id: result.group_id for result in received}
    for task in tasks:
        group_id = groups.setdefault(task.id, new_group_id())
        for index in range(samples_per_task):
            if left[task.id, index] > 0:
                left[task.id, index] -= 1
                yield _lost_rollout(task, index, group_id, error)


def _lost_rollout(
    task: Task, sample_index: int, group_id: str, error: ServiceError
) -> RolloutResult:
    message = f"the agent server went away before this rollout finished ({error})"
    return RolloutResult(
        task_id=task.id,
        env=task.env,
        group_id=group_id,
        sample_index=sample_index,
        messages=task.messages(),
        status="failed",
        failure=Failure(kind="replica_lost", message=message),
    )


def _sampling(sampling: SamplingLike) -> dict[str, Any] | None:
    if sampling is None:
        return None
    if isinstance(sampling, SamplingParams):
        return sampling.model_dump(exclude_none=True)
    return dict(sampling)


def _batch(
    tasks: list[Task],
    samples_per_task: int,
    sampling: SamplingLike,
    stream: bool,
    batch_id: str | None,
    max_staleness: int | None,
) -> dict[str, Any]:
    return {
        "tasks": [_task(task) for task in tasks],
        "samples_per_task": samples_per_task,
        "sampling": _sampling(sampling),
        "stream": stream,
        "batch_id": batch_id,
        "max_staleness": max_staleness,
    }
