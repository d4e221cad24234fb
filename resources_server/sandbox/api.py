"""The sandbox contract: what a run may use (`Limits`), what it gives back (`RunResult`), and
the base every backend extends (`Sandbox`).

The base owns what all backends share: a bounded number of runs at once (a burst of
rollouts queues here instead of overloading the machine), checking the names of the files a
run gets, and turning a program into a command. Isolation is the backends' job.
"""

from __future__ import annotations

import asyncio
import os
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import PurePosixPath
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PROGRAM_FILE", "WORKDIR", "Limits", "RunResult", "Sandbox", "SandboxError"]

PROGRAM_FILE = "main.py"
"""Where `run(program=...)` puts the program, in the run's working directory."""
WORKDIR = "/work"
"""The run's private working directory, as the program sees it."""

_MEMORY_ERROR = re.compile(r"^MemoryError\b")


class SandboxError(Exception):
    """The sandbox itself failed (missing binary, engine unreachable, could not start the
    program). Never the program's fault, so never a reward: it fails the rollout."""


PositiveInt = Annotated[int, Field(ge=1)]


class Limits(BaseModel):
    """What one run may use. Every limit is enforced by the kernel or the container engine,
    never by trusting the program."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu_time_s: PositiveInt = 10
    """CPU seconds each process may use (RLIMIT_CPU). It counts the program's own work, so a
    busy machine never turns a correct solution into a timeout."""
    wall_time_s: Annotated[float, Field(gt=0)] = 60.0
    """Wall-clock bound of the whole run, for programs that sleep or block. Keep it generous:
    it is the only limit a busy machine can make a program hit."""
    memory_mb: PositiveInt = 1024
    """Address space of each process (RLIMIT_AS), and the memory of all the run's processes
    together where the run has a cgroup (its tmpfs files count too); the docker backend
    bounds the container."""
    processes: PositiveInt = 32
    """Processes and threads the program may have at once (a fork bomb stops here): per user
    (RLIMIT_NPROC) and per run where the run has a cgroup or a container."""
    cpus: Annotated[float, Field(gt=0)] = 1.0
    """Cores the run's processes may keep busy together, where the run has a cgroup or a
    container (a CPU quota: more processes share them, never take the machine)."""
    output_bytes: PositiveInt = 1_000_000
    """Bytes kept of each of stdout and stderr; a program writing more is stopped."""
    file_size_mb: PositiveInt = 16
    """Largest file the program may write (RLIMIT_FSIZE)."""
    disk_mb: PositiveInt = 64
    """Size of each writable place: the working directory and `/dev/shm` (bubblewrap)."""
    open_files: PositiveInt = 256


class RunResult(BaseModel):
    """What one run gave back. A program that failed is a normal result, not an error."""

    model_config = ConfigDict(extra="forbid")

    stdout: str
    stderr: str
    """Both decoded as UTF-8 (bad bytes replaced) and cut at `Limits.output_bytes`."""
    exit_code: int | None
    """The exit status; 128+N when signal N killed the program; None when the sandbox
    stopped it (wall-clock limit, output limit)."""
    wall_time_s: float
    cpu_time_s: float | None = None
    """User plus system time of every process of the run; None where the backend cannot
    measure it (docker)."""
    timed_out: bool = False
    """The program used up its CPU time or the wall-clock bound."""
    wall_clock_stopped: bool = False
    """It was stopped by the wall-clock backstop having used less CPU time, all its processes
    together, than one process may: it waited (for a core on a busy machine, or asleep) rather
    than computed, so the run judges nothing about the program; a verifier must not score it.
    (A sleeping program is therefore not scored either: it earns nothing, but loses nothing.)"""
    out_of_memory: bool = False
    """An allocation failed (Python's `MemoryError`), or the OOM killer struck the run's
    cgroup or container (which ends the whole run)."""
    output_truncated: bool = False
    """The program wrote more than `output_bytes` to stdout or stderr and was stopped."""

    @property
    def ok(self) -> bool:
        """The program ran to the end and exited with 0."""
        return self.exit_code == 0 and not self.timed_out and not self.output_truncated


class Sandbox(ABC):
    """Runs untrusted programs, each in a fresh private directory with no network, no host
    files beyond what the interpreter needs, no host environment and an unprivileged user.

    Set in ALL subclasses: `name`, and `python` (the interpreter, as the sandbox names it).
    Override: `_execute`; `close` when the backend holds a client.
    """

    name: ClassVar[str]
    python: str

    def __init__(self, limits: Limits, max_concurrency: int) -> None:
        self.limits = limits
        self.max_concurrency = max_concurrency
        self._slots: asyncio.Queue[int] = asyncio.Queue()
        for slot in range(max_concurrency):
            self._slots.put_nowait(slot)

    async def run(
        self,
        command: Sequence[str] | None = None,
        *,
        program: str | None = None,
        files: Mapping[str, str | bytes] | None = None,
        stdin: str | bytes = b"",
        limits: Limits | None = None,
    ) -> RunResult:
        """Run `command` (argv, in the working directory), or the Python `program`, with
        `files` (relative path -> content) in the working directory and `stdin`.

        Waits for a free slot when `max_concurrency` runs are under way.

        Raises:
            SandboxError: the sandbox could not run it (the program's own failures are
                results, never errors).
            ValueError: neither or both of `command` and `program`, or a bad file name.
        """
        if (command is None) == (program is None):
            raise ValueError("run takes either a command or a program")
        staged = {_checked_path(name): _as_bytes(data) for name, data in (files or {}).items()}
        if program is not None:
            staged[PROGRAM_FILE] = program.encode()
            command = [self.python, PROGRAM_FILE]
        assert command is not None
        async with self._slot() as slot:
            return await self._execute(
                list(command), staged, _as_bytes(stdin), limits or self.limits, slot
            )

    async def check(self) -> None:
        """Run a trivial program; raise `SandboxError` saying why when that fails."""
        result = await self.run(program="print('ok')")
        if result.stdout != "ok\n" or not result.ok:
            raise SandboxError(
                f"the {self.name} sandbox cannot run Python ({self.python}): exit code "
                f"{result.exit_code}, stderr: {result.stderr.strip()[-500:] or '(empty)'}"
            )

    async def close(self) -> None:  # noqa: B027 (optional, like ResourcesServer.shutdown)
        """Release what the backend holds (clients, connections)."""

    @abstractmethod
    async def _execute(
        self, argv: list[str], files: dict[str, bytes], stdin: bytes, limits: Limits, slot: int
    ) -> RunResult:
        """Run `argv` isolated. `slot` (0 .. max_concurrency-1) is unique among the runs under
        way, so a backend can give each its own resources (e.g. a host uid)."""

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[int]:
        slot = await self._slots.get()
        try:
            yield slot
        finally:
            self._slots.put_nowait(slot)


def out_of_memory(exit_code: int | None, stderr: str) -> bool:
    """Whether a run failed for memory: Python reports `MemoryError` as its last words."""
    if exit_code in (0, None):
        return False
    lines = stderr.rstrip().splitlines()
    return bool(lines) and _MEMORY_ERROR.match(lines[-1]) is not None


def decode(output: bytes) -> str:
    return output.decode("utf-8", errors="replace")


def _checked_path(name: str) -> str:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\0" in name:
        raise ValueError(f"file name {name!r} must be a relative path inside the work directory")
    return os.path.normpath(name)


def _as_bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data
