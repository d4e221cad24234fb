"""The live policy's generator: one worker thread that runs a trainer's model on every request
in flight at once.

Requests wait in a queue. When the batch is empty, the worker waits for one, then gathers
more for a short window (up to `max_batch_size`); between steps of a running batch, waiting
requests join it (their prompts prefilled in one forward, their rows added to the cache), and
every request leaves the batch at the step it finishes. Each forward holds the weights gate,
so an optimizer step never runs under it, and each request records the policy version of
its first token: a request that spans a weight update is reported with the version it
started with.

The model is run through an eval-mode view that shares the trainer's parameters: dropout is
off for generation while the trainer's own module keeps whatever mode it is in.
"""

from __future__ import annotations

import copy
import logging
import queue
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from trainers.live_batch import Rows, check_cache_support
from trainers.live_sampling import Sampling, sample

__all__ = ["Completion", "LiveEngine", "WeightsGate"]

log = logging.getLogger("rl_gym.live_policy")

DEFAULT_BATCH_WINDOW_S = 0.02
"""How long an idle worker gathers requests after the first: the requests of one rollout
batch reach it within a few milliseconds of each other."""


@dataclass
class Completion:
    """What one request generated."""

    ids: list[int]
    logprobs: list[float]
    """Of each token under the distribution it was sampled from."""
    finish_reason: str
    """`stop` (end of generation or a stop string) or `length`."""
    policy_version: int
    """The version of the weights that produced the first token."""


@dataclass
class _Job:
    prompt_ids: list[int]
    max_tokens: int
    sampling: Sampling
    stop: list[str]
    generator: Any
    future: Future[Completion] = field(default_factory=Future)
    ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    version: int = 0
    finish_reason: str | None = None


class WeightsGate:
    """Generation steps and weight updates, never at once; a waiting update goes first, so a
    busy generator cannot starve the optimizer."""

    def __init__(self) -> None:
        self.version = 0
        self._changed = threading.Condition()
        self._stepping = False
        self._updating = False
        self._updates_waiting = 0

    @contextmanager
    def step(self) -> Iterator[int]:
        """Hold the weights for one forward; yields their version."""
        with self._changed:
            self._changed.wait_for(lambda: not self._updating and not self._updates_waiting)
            self._stepping = True
            version = self.version
        try:
            yield version
        finally:
            with self._changed:
                self._stepping = False
                self._changed.notify_all()

    @contextmanager
    def update(self, version: int | None) -> Iterator[None]:
        """Hold the weights while they change; on a normal exit the version becomes `version`
        (or goes up by one). An exception leaves the version as it was."""
        with self._changed:
            self._updates_waiting += 1
            self._changed.wait_for(lambda: not self._stepping and not self._updating)
            self._updates_waiting -= 1
            self._updating = True
        try:
            yield
            self.version = self.version + 1 if version is None else version
        finally:
            with self._changed:
                self._updating = False
                self._changed.notify_all()


class LiveEngine:
    """Batched generation with `model` on a worker thread; `submit` from any thread."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        gate: WeightsGate,
        *,
        max_batch_size: int,
        batch_window_s: float = DEFAULT_BATCH_WINDOW_S,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        check_cache_support(model)
        self.model = _eval_view(model)
        self.tokenizer = tokenizer
        self.gate = gate
        self.max_batch_size = max_batch_size
        self.batch_window_s = batch_window_s
        self.context = int(model.config.max_position_embeddings)
        self.pad_id = _pad_id(tokenizer)
        self.end_ids = _end_ids(model, tokenizer)
        self.batches = 0
        """Prefill forwards so far: how many groups of requests were gathered."""
        self.steps = 0
        """Forwards so far, prefill and decode."""
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.closed = False
        """Set by `close`: no new requests; those in flight are cancelled."""
        self._worker = threading.Thread(target=self._run, name="live-policy-generator", daemon=True)
        self._worker.start()

    def submit(
        self,
        prompt_ids: list[int],
        *,
        max_tokens: int,
        sampling: Sampling,
        stop: list[str],
        seed: int | None,
    ) -> Future[Completion]:
        """Queue a generation. Cancelling the future drops it from the batch at the next step."""
        if self.closed:
            raise RuntimeError("the live policy is closed")
        import torch

        generator = torch.Generator().manual_seed(random.getrandbits(63) if seed is None else seed)
        limit = min(max_tokens, self.context - len(prompt_ids))
        job = _Job(list(prompt_ids), limit, sampling, stop, generator)
        self._queue.put(job)
        return job.future

    def close(self) -> None:
        """Stop the worker; requests not finished yet are cancelled."""
        self.closed = True
        self._queue.put(None)
        self._worker.join()

    def _run(self) -> None:
        import torch

        rows: Rows | None = None
        jobs: list[_Job] = []
        with torch.inference_mode():
            while not self.closed:
                arrived = self._arrivals(wait=rows is None, room=self.max_batch_size - len(jobs))
                try:
                    rows = self._step(rows, jobs, arrived)
                except Exception as error:  # the model failed: fail the batch, keep serving
                    log.exception("live policy: a generation step failed")
                    for job in [*jobs, *arrived]:  # a job may be in both: answer it once
                        if not job.future.done() and job.future.set_running_or_notify_cancel():
                            job.future.set_exception(error)
                    jobs.clear()
                    rows = None
        for job in [*jobs, *self._drain()]:
            job.future.cancel()

    def _step(self, rows: Rows | None, jobs: list[_Job], arrived: list[_Job]) -> Rows | None:
        """One forward: prefill the requests that arrived, else decode the running rows."""
        if arrived:
            with self.gate.step() as version:
                new, logits = Rows.prefill(self.model, [j.prompt_ids for j in arrived], self.pad_id)
            self.batches += 1
            self.steps += 1
            for job in arrived:
                job.version = version
            self._sample(new, arrived, logits)
            if rows is None:
                rows = new
            else:
                rows.join(new)
            jobs += arrived
        elif rows is not None:
            with self.gate.step():
                logits = rows.decode(self.model)
            self.steps += 1
            self._sample(rows, jobs, logits)
        else:
            return None
        staying = [i for i, job in enumerate(jobs) if not self._finished(job)]
        jobs[:] = [jobs[i] for i in staying]
        rows.keep(staying)
        return rows if staying else None

    def _sample(self, rows: Rows, jobs: list[_Job], logits: Any) -> None:
        import torch

        drawn = sample(logits, [j.sampling for j in jobs], [j.generator for j in jobs])
        for job, (token, logprob) in zip(jobs, drawn, strict=True):
            job.ids.append(token)
            job.logprobs.append(logprob)
        rows.pending = torch.tensor([token for token, _ in drawn])

    def _finished(self, job: _Job) -> bool:
        """Whether `job` is done; if so its future gets its answer."""
        if job.future.cancelled():
            return True
        if job.ids[-1] in self.end_ids or self._stopped(job):
            job.finish_reason = "stop"
        elif len(job.ids) >= job.max_tokens:
            job.finish_reason = "length"
        else:
            return False
        if job.future.set_running_or_notify_cancel():
            job.future.set_result(Completion(job.ids, job.logprobs, job.finish_reason, job.version))
        return True

    def _stopped(self, job: _Job) -> bool:
        """Whether the completion's text now holds a stop string (only its tail can)."""
        if not job.stop:
            return False
        tail = job.ids[-(max(len(s) for s in job.stop) + 8) :]
        text = self.tokenizer.decode(tail, skip_special_tokens=False)
        return any(s in text for s in job.stop)

    def _arrivals(self, *, wait: bool, room: int) -> list[_Job]:
        """Requests to start now: any already queued; when `wait`, block for the first and
        gather more for the batch window."""
        arrived: list[_Job] = []
        deadline = None
        while len(arrived) < room:
            try:
                if deadline is None and wait:
                    job = self._queue.get()
                    deadline = time.monotonic() + self.batch_window_s
                elif deadline is not None:
                    job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                else:
                    job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                break
            if not job.future.cancelled():
                arrived.append(job)
        return arrived

    def _drain(self) -> Iterator[_Job]:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                yield job


def _eval_view(module: Any) -> Any:
    """A copy of `module`'s tree in eval mode whose parameters and buffers are the very
    tensors of `module`: an optimizer step on the original is seen here, and neither's
    `training` flag moves the other's."""
    view = copy.copy(module)
    view._modules = {name: _eval_view(child) for name, child in module._modules.items()}
    view._parameters = dict(module._parameters)
    view._buffers = dict(module._buffers)
    view.training = False
    return view


def _pad_id(tokenizer: Any) -> int:
    for token_id in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if token_id is not None:
            return int(token_id)
    return 0


def _end_ids(model: Any, tokenizer: Any) -> set[int]:
    """Tokens that end a generation: the tokenizer's end of sequence and the model's own."""
    configured = getattr(model.generation_config, "eos_token_id", None)
    listed = configured if isinstance(configured, list) else [configured]
    return {int(i) for i in [tokenizer.eos_token_id, *listed] if i is not None}
