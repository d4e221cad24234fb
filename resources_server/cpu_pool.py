"""Long-lived worker processes for CPU-heavy verification, with CPU-time limits.

Verification (parsing and comparing math answers with sympy, say) must never run on the event
loop, and must not be judged by wall-clock time: on a machine busy with other rollouts a check
can wait seconds for a core without doing anything wrong. Each call therefore gets a budget of
the worker's own CPU time (`ITIMER_PROF`). A call that spends it raises `CpuTimeExceeded`; a
worker that stops answering altogether (stuck in C code) is killed after a generous wall-clock
bound and replaced, so one bad input never takes the pool down. A worker whose call was
abandoned (cancelled, timed out, lost) is killed and replaced, never handed the next call: its
late answer would otherwise be read as the next call's.

Workers are forked from a clean `forkserver` process that has already imported the modules
the environment names, so starting or replacing a worker costs a fork, not a fresh import.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import signal
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from gym_core.processes import die_with_parent

__all__ = ["CpuPool", "CpuTimeExceeded", "WorkerLost"]

WALL_LIMIT_FACTOR = 20.0
"""The wall-clock bound is this many times the CPU budget (and at least `MIN_WALL_LIMIT_S`);
it only catches workers that no longer answer, never honest work on a busy machine."""
MIN_WALL_LIMIT_S = 60.0


class CpuTimeExceeded(Exception):
    """The call used up its CPU-time budget, or its worker stopped answering."""


class WorkerLost(Exception):
    """The worker process died during the call (killed, out of memory, crashed)."""


class CallFailed(Exception):
    """The function raised in the worker; the message names the exception."""


class _CpuBudgetSpent(BaseException):
    """Raised inside a worker by SIGPROF. A BaseException, so that library code catching
    `Exception` (as math-verify does) cannot swallow it; a call that swallows it anyway (a
    bare `except:`) still ends over budget, never with the answer it made up."""


class CpuPool:
    """A fixed set of worker processes running picklable functions under a CPU budget."""

    def __init__(self, workers: int, *, cpu_limit_s: float, preload: Sequence[str] = ()) -> None:
        self.size = workers
        self.cpu_limit_s = cpu_limit_s
        self.preload = list(preload)
        self._context = multiprocessing.get_context("forkserver")
        self._idle: asyncio.Queue[_Worker] | None = None
        self._workers: set[_Worker] = set()
        self._starting: asyncio.Task[None] | None = None
        self._replacing: set[asyncio.Task[None]] = set()
        self._closed = False

    def start(self) -> None:
        """Begin starting the workers in the background; `run` waits for them."""
        if self._starting is None:
            self._idle = asyncio.Queue()
            self._starting = asyncio.get_running_loop().create_task(self._start_workers())

    async def run(
        self, fn: Callable[..., Any], *args: Any, cpu_limit_s: float | None = None
    ) -> Any:
        """`fn(*args)` in a worker. `fn` must be a module-level function.

        Raises:
            CpuTimeExceeded: the call spent its CPU budget, or its worker stopped answering.
            WorkerLost: the worker died during the call.
            CallFailed: `fn` raised; the message names the exception.
        """
        if self._closed:
            raise RuntimeError("the CPU pool is closed")
        self.start()
        assert self._starting is not None
        assert self._idle is not None
        await asyncio.shield(self._starting)  # a caller that goes away must not stop it
        worker = await self._idle.get()
        limit = cpu_limit_s or self.cpu_limit_s
        try:
            return await worker.call(
                fn, args, limit, max(MIN_WALL_LIMIT_S, WALL_LIMIT_FACTOR * limit)
            )
        finally:
            if worker.answered_last_call:
                self._idle.put_nowait(worker)
            else:  # lost, stuck, or its caller went away: its pipe is out of step
                self._replace(worker)

    async def close(self) -> None:
        self._closed = True
        if self._starting is not None:
            self._starting.cancel()
        for replacing in list(self._replacing):
            replacing.cancel()
        for worker in list(self._workers):
            worker.stop()
        self._workers.clear()

    async def _start_workers(self) -> None:
        if self.preload:
            self._context.set_forkserver_preload(self.preload)
        for _ in range(self.size):
            worker = await asyncio.to_thread(_Worker, self._context, self.preload)
            self._workers.add(worker)
            assert self._idle is not None
            self._idle.put_nowait(worker)

    def _replace(self, worker: _Worker) -> None:
        """Kill `worker` now; a fresh one joins the idle queue once it has started."""
        worker.stop()
        self._workers.discard(worker)
        if self._closed:
            return
        replacing = asyncio.get_running_loop().create_task(self._add_worker())
        self._replacing.add(replacing)
        replacing.add_done_callback(self._replacing.discard)

    async def _add_worker(self) -> None:
        worker = await asyncio.to_thread(_Worker, self._context, self.preload)
        if self._closed:
            worker.stop()
            return
        self._workers.add(worker)
        assert self._idle is not None
        self._idle.put_nowait(worker)


class _Worker:
    """One worker process and the pipe to it."""

    def __init__(self, context: Any, preload: list[str]) -> None:
        self.conn, child_conn = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_worker_main, args=(child_conn, preload), daemon=True
        )
        self.process.start()
        child_conn.close()
        self.answered_last_call = True

    async def call(
        self, fn: Callable[..., Any], args: tuple[Any, ...], cpu_limit_s: float, wall_limit_s: float
    ) -> Any:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[tuple[str, Any]] = loop.create_future()

        def on_readable() -> None:
            loop.remove_reader(self.conn.fileno())
            if reply.done():
                return
            try:
                reply.set_result(self.conn.recv())
            except (EOFError, OSError):
                reply.set_exception(WorkerLost(f"worker {self.process.pid} died"))

        self.answered_last_call = False
        try:
            self.conn.send((fn, args, cpu_limit_s))
        except (BrokenPipeError, OSError):
            raise WorkerLost(f"worker {self.process.pid} is gone") from None
        loop.add_reader(self.conn.fileno(), on_readable)
        try:
            status, payload = await asyncio.wait_for(reply, wall_limit_s)
        except TimeoutError:
            raise CpuTimeExceeded(f"no answer within {wall_limit_s:g}s wall-clock") from None
        finally:
            loop.remove_reader(self.conn.fileno())
        self.answered_last_call = True
        if status == "ok":
            return payload
        if status == "cpu_limit":
            raise CpuTimeExceeded(f"used its CPU budget of {cpu_limit_s:g}s")
        raise CallFailed(payload)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=1)
        self.conn.close()


_armed = False


_spent = False
"""Set when the budget ran out during the current call, even if the call swallowed the
exception (a bare `except:`, as some scorers have): its answer then does not count."""


def _on_sigprof(signum: int, frame: object) -> None:
    global _spent
    if _armed:
        _spent = True
        raise _CpuBudgetSpent


def _worker_main(conn: Connection, preload: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGPROF, _on_sigprof)
    die_with_parent()
    for module in preload:
        importlib.import_module(module)
    while True:
        try:
            fn, args, cpu_limit_s = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply = _run_with_budget(fn, args, cpu_limit_s)
        except _CpuBudgetSpent:
            reply = ("cpu_limit", None)
        conn.send(reply)


def _run_with_budget(
    fn: Callable[..., Any], args: tuple[Any, ...], cpu_limit_s: float
) -> tuple[str, Any]:
    global _armed, _spent
    _armed, _spent = True, False
    signal.setitimer(signal.ITIMER_PROF, cpu_limit_s)
    try:
        reply = ("ok", fn(*args))
    except _CpuBudgetSpent:
        return ("cpu_limit", None)
    except Exception as error:
        reply = ("error", f"{type(error).__name__}: {error}")
    finally:
        _armed = False
        signal.setitimer(signal.ITIMER_PROF, 0)
    return ("cpu_limit", None) if _spent else reply
