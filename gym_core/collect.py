"""Collecting rollouts into a JSONL file that survives interruption.

Each result is appended and flushed the moment it arrives, so a crash loses at most the
rollouts still running. On `resume`, every (task id, sample index) already in the file is
skipped, and a task whose group was cut short gets its missing samples under the group id it
already has, so GRPO groups stay whole. With `retry_failed`, samples whose result is `failed`
run again in their group; when the run ends, each new result takes its failed row's place in
the file. A file holding two rows for one sample (a retry cut short by a crash) is read as the
later row, so no sample is ever counted twice.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import orjson
from pydantic import ValidationError

from gym_core.errors import ConfigError, ServiceRejected
from gym_core.protocol import RolloutResult, SamplingParams, Task, new_group_id
from gym_core.rollout_client import AsyncRolloutClient

__all__ = ["Collection", "Progress", "collect", "read_results"]


@dataclass
class Collection:
    """What a collection run produced."""

    results: list[RolloutResult]
    """Every result in the file, the earlier runs' included."""
    new: int
    """Results this run added."""
    seconds: float
    rejected: list[str] = field(default_factory=list)
    """Tasks the endpoint refused (with its reason); they have no result."""

    @property
    def rollouts_per_second(self) -> float:
        return self.new / self.seconds if self.seconds > 0 else 0.0


class Progress(Protocol):
    """Told how many rollouts a run will make, then of each as it finishes."""

    def start(self, total: int) -> None: ...

    def advance(self, result: RolloutResult) -> None: ...


@dataclass(frozen=True)
class _Job:
    task: Task
    sample_index: int
    group_id: str | None


def read_results(path: Path) -> list[RolloutResult]:
    """The results already in `path`, one per sample (a later row replaces an earlier one of
    the same task and sample index); a line cut short by a crash is ignored."""
    if not path.exists():
        return []
    results: dict[tuple[str, int], RolloutResult] = {}
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            result = RolloutResult.model_validate_json(line)
        except ValidationError:
            continue
        results[_sample(result)] = result
    return list(results.values())


async def collect(
    client: AsyncRolloutClient,
    tasks: list[Task],
    out: Path,
    *,
    samples: int = 1,
    concurrency: int = 32,
    resume: bool = False,
    retry_failed: bool = False,
    sampling: SamplingParams | None = None,
    progress: Progress | None = None,
) -> Collection:
    """Run `samples` rollouts of every task, appending each result to `out` as it finishes."""
    previous = read_results(out)
    if previous and not resume:
        raise ConfigError(f"{out} already holds results: pass --resume to continue it")
    _drop_partial_last_line(out)
    kept = [r for r in previous if not (retry_failed and r.status == "failed")]
    jobs = _pending_jobs(tasks, samples, previous, kept)
    if progress is not None:
        progress.start(len(jobs))
    results = list(previous)
    rejected: list[str] = []
    queue: asyncio.Queue[_Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("ab") as sink:

        async def worker() -> None:
            while not queue.empty():
                job = queue.get_nowait()
                try:
                    result = await client.rollout(
                        job.task,
                        sample_index=job.sample_index,
                        group_id=job.group_id,
                        sampling=sampling,
                    )
                except ServiceRejected as error:
                    rejected.append(f"task {job.task.id!r}: {error.detail}")
                    continue
                sink.write(orjson.dumps(result.model_dump(mode="json")) + b"\n")
                sink.flush()
                results.append(result)
                if progress is not None:
                    progress.advance(result)

        workers = max(1, min(concurrency, len(jobs)))
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(worker())
        except ExceptionGroup as errors:
            raise errors.exceptions[0] from None
    if len(kept) < len(previous):
        results = _rewrite_in_place(out, previous, results[len(previous) :])
    return Collection(
        results=results,
        new=len(results) - len(kept),
        seconds=time.perf_counter() - started,
        rejected=rejected,
    )


def _sample(result: RolloutResult) -> tuple[str, int]:
    return result.task_id, result.sample_index


def _rewrite_in_place(
    path: Path, previous: list[RolloutResult], new: list[RolloutResult]
) -> list[RolloutResult]:
    """`path` with each retried sample's new result where its failed row was, then the rest
    of the new results; written whole, then moved over the old file."""
    fresh = {_sample(result): result for result in new}
    ordered = [fresh.pop(_sample(result), result) for result in previous]
    ordered += list(fresh.values())
    staging = path.with_name(path.name + ".rewrite")
    staging.write_bytes(b"".join(orjson.dumps(r.model_dump(mode="json")) + b"\n" for r in ordered))
    os.replace(staging, path)
    return ordered


def _drop_partial_last_line(path: Path) -> None:
    """A crash can leave half a line at the end; cut it, so the next line starts clean."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        with path.open("r+b") as sink:
            sink.truncate(data.rfind(b"\n") + 1)


def _pending_jobs(
    tasks: list[Task], samples: int, previous: list[RolloutResult], kept: list[RolloutResult]
) -> list[_Job]:
    """Every sample of `tasks` with no result in `kept`, in the group its task already has."""
    done = {_sample(r) for r in kept}
    groups = {r.task_id: r.group_id for r in previous}
    jobs = []
    for task in tasks:
        group_id = groups.get(task.id) or new_group_id()
        jobs += [
            _Job(task, index, group_id) for index in range(samples) if (task.id, index) not in done
        ]
    return jobs
