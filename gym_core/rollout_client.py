"""The Python client a trainer uses: send tasks to the rollout endpoint, get trajectories back.

    from gym_core import RolloutClient

    client = RolloutClient("http://127.0.0.1:8700")
    results = client.rollouts(tasks, samples_per_task=8)   # one GRPO group of 8 per task

`AsyncRolloutClient` is the same for code that already runs an event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Coroutine, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from gym_core.http_client import HttpClient
from gym_core.protocol import (
    EnvInfo,
    RolloutResult,
    RolloutsResponse,
    SamplingParams,
    Task,
)

__all__ = ["AsyncRolloutClient", "RolloutClient"]

DEFAULT_ROLLOUT_TIMEOUT_S = 3600.0
"""A whole batch may take long; the bound is there so a dead server is noticed."""

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
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._http = HttpClient(timeout_s=timeout_s, token=token)

    async def rollouts(
        self, tasks: Iterable[TaskLike], samples_per_task: int = 1, sampling: SamplingLike = None
    ) -> list[RolloutResult]:
        """Every sample of every task, ordered by task then sample index."""
        body = _batch(tasks, samples_per_task, sampling, stream=False)
        answer = await self._http.post(f"{self.endpoint}/v1/rollouts", body)
        return RolloutsResponse.model_validate(answer).results

    async def stream(
        self, tasks: Iterable[TaskLike], samples_per_task: int = 1, sampling: SamplingLike = None
    ) -> AsyncGenerator[RolloutResult, None]:
        """Every sample of every task, each as soon as it finishes."""
        body = _batch(tasks, samples_per_task, sampling, stream=True)
        async for line in self._http.stream_lines(f"{self.endpoint}/v1/rollouts", body):
            yield RolloutResult.model_validate_json(line)

    async def rollout(
        self,
        task: TaskLike,
        *,
        sample_index: int = 0,
        group_id: str | None = None,
        sampling: SamplingLike = None,
    ) -> RolloutResult:
        """One sample of one task."""
        body = {
            "task": _task(task),
            "sample_index": sample_index,
            "group_id": group_id,
            "sampling": _sampling(sampling),
        }
        answer = await self._http.post(f"{self.endpoint}/v1/rollout", body)
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
        self, tasks: Iterable[TaskLike], samples_per_task: int = 1, sampling: SamplingLike = None
    ) -> list[RolloutResult]:
        return self._run(self._client.rollouts(tasks, samples_per_task, sampling))

    def stream(
        self, tasks: Iterable[TaskLike], samples_per_task: int = 1, sampling: SamplingLike = None
    ) -> Iterator[RolloutResult]:
        stream = self._client.stream(tasks, samples_per_task, sampling)
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


def _task(task: TaskLike) -> dict[str, Any]:
    validated = task if isinstance(task, Task) else Task.model_validate(dict(task))
    return validated.model_dump(mode="json", exclude_none=True)


def _sampling(sampling: SamplingLike) -> dict[str, Any] | None:
    if sampling is None:
        return None
    if isinstance(sampling, SamplingParams):
        return sampling.model_dump(exclude_none=True)
    return dict(sampling)


def _batch(
    tasks: Iterable[TaskLike], samples_per_task: int, sampling: SamplingLike, *, stream: bool
) -> dict[str, Any]:
    return {
        "tasks": [_task(task) for task in tasks],
        "samples_per_task": samples_per_task,
        "sampling": _sampling(sampling),
        "stream": stream,
    }
