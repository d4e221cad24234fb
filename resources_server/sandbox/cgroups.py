"""A cgroup for each sandboxed run, so its memory (all its processes together), its number of
processes and its CPU are bounded as a whole, and an out-of-memory kill is seen as one.

Two kinds of machine offer one:
- cgroup v2 with delegation: this process's own cgroup is writable (root, or delegated to this
  service) and has the `memory` and `pids` controllers. A cgroup that hands controllers down may
  hold no processes, so the processes in it (this service's, and those of the services started
  with it) move into a leaf `rl-gym-service` first; each run is a sibling of that leaf.
- cgroup v1 with writable `memory` and `pids` hierarchies (root): a run is a directory in each,
  under this process's own cgroup there, and in `cpu` and `cpuacct` when they are mounted.
Elsewhere runs keep only their per-process rlimits, and `cgroup_detect.detect_cgroups` says so once.

A run's cgroup is made before its child starts, the child is put in it before it executes
anything (`process.run_process` holds it at a gate until then), and every process left in it
is killed and the cgroup removed after the run. On an out-of-memory kill the whole run is
killed at once (v2: `memory.oom.group`; v1: the `memory.oom_control` event), so a run that
loses one of its processes to the OOM killer ends as out of memory, never half alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import os
import signal
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from resources_server.sandbox.api import Limits, SandboxError

__all__ = ["SERVICE_LEAF", "CgroupTree", "RunCgroup", "gated", "run_cgroup"]

log = logging.getLogger("rl_gym.sandbox")

SERVICE_LEAF = "rl-gym-service"
RUN_PREFIX = "rl-gym-run"
CPU_PERIOD_US = 100_000
REMOVE_ATTEMPTS = 200
REMOVE_PAUSE_S = 0.01
GATE_SHELL = "/bin/bash"
"""Holds a run's first process until it is in its cgroup (bash: it reads any fd by number;
dash only 0-9, and a process that changed its uid may not open /proc/self/fd)."""
ENV = "/usr/bin/env"
_GATE = 'read -r -u {fd} _ && exec {fd}<&- && exec -c "$@"'
"""`exec -c`: what runs gets no variable of bash's own (SHLVL, PWD), only `environment`."""
_runs = itertools.count()


def gated(argv: Sequence[str], fd: int, environment: Mapping[str, str]) -> list[str]:
    """`argv` behind a gate, with exactly `environment`: it starts once a line can be read
    from `fd` (never, when the other end closes first)."""
    variables = [ENV, "-i", *(f"{name}={value}" for name, value in environment.items())]
    return [
        GATE_SHELL,
        "-c",
        _GATE.format(fd=fd),
        "gate",
        *(variables if environment else []),
        *argv,
    ]


@dataclass
class RunCgroup:
    """One run's cgroup: a directory per v1 hierarchy, or one v2 directory."""

    version: Literal[1, 2]
    dirs: dict[str, Path]
    """Controller (v1) or "unified" (v2) -> the run's directory there."""
    _oom_event: int | None = field(default=None, repr=False)
    _oom_seen: bool = field(default=False, repr=False)

    def attach(self, pid: int) -> None:
        """Put process `pid` (not yet running the program) in this cgroup.

        Raises:
            SandboxError: the kernel refused.
        """
        for directory in self._unique_dirs():
            try:
                (directory / "cgroup.procs").write_text(str(pid))
            except OSError as error:
                raise SandboxError(
                    f"cannot put the run in its cgroup {directory}: {error}"
                ) from None

    def oom_killed(self) -> bool:
        """Whether the run ran out of memory: the OOM killer struck one of its processes, or
        (v1) we killed the run on the kernel's word that it was out of memory."""
        if self.version == 2:
            return _flat_keyed(self.dirs["unified"] / "memory.events").get("oom_kill", 0) > 0
        if self._oom_event is not None:
            with contextlib.suppress(BlockingIOError):
                os.eventfd_read(self._oom_event)
                self._oom_seen = True
        control = _flat_keyed(self.dirs["memory"] / "memory.oom_control")
        return self._oom_seen or control.get("oom_kill", 0) > 0 or control.get("under_oom", 0) > 0

    def cpu_time_s(self) -> float | None:
        """CPU seconds used by all the run's processes so far; None where not accounted."""
        if self.version == 2:
            usage = _flat_keyed(self.dirs["unified"] / "cpu.stat").get("usage_usec")
            return None if usage is None else usage / 1e6
        if "cpuacct" not in self.dirs:
            return None
        with contextlib.suppress(OSError, ValueError):
            return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text()) / 1e9
        return None

    def kill(self) -> None:
        """SIGKILL every process in the run."""
        if self.version == 2 and (kill := self.dirs["unified"] / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                kill.write_text("1")
            return
        for pid in self._pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def watch_oom(self, loop: asyncio.AbstractEventLoop) -> None:
        """v1: kill the whole run when the OOM killer strikes in it (v2 has `memory.oom.group`)."""
        if self.version != 1:
            return
        memory = self.dirs["memory"]
        event = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        control = os.open(memory / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        try:
            (memory / "cgroup.event_control").write_text(f"{event} {control}")
        except OSError:
            os.close(event)
            return  # the run is still bounded; the verdict is read after it
        finally:
            os.close(control)
        self._oom_event = event
        loop.add_reader(event, self._on_oom_event)

    def _on_oom_event(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._oom_event)  # type: ignore[arg-type]
        self._oom_seen = True
        self.kill()

    async def remove(self, loop: asyncio.AbstractEventLoop) -> None:
        """Kill what is left in the run and remove its directories."""
        if self._oom_event is not None:
            loop.remove_reader(self._oom_event)
            os.close(self._oom_event)
            self._oom_event = None
        for directory in self._unique_dirs():
            for _ in range(REMOVE_ATTEMPTS):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as error:
                    if error.errno != errno.EBUSY:
                        log.warning("cannot remove the run's cgroup %s: %s", directory, error)
                        break
                    self.kill()
                    await asyncio.sleep(REMOVE_PAUSE_S)
            else:
                log.warning("the run's cgroup %s stays: processes would not leave it", directory)

    def remove_empty(self) -> None:
        """Remove the directories of a cgroup no process ever entered."""
        for directory in self._unique_dirs():
            with contextlib.suppress(OSError):
                directory.rmdir()

    def _pids(self) -> list[int]:
        pids: set[int] = set()
        for directory in self._unique_dirs():
            with contextlib.suppress(OSError):
                pids.update(int(pid) for pid in (directory / "cgroup.procs").read_text().split())
        return sorted(pids)

    def _unique_dirs(self) -> list[Path]:
        return list(dict.fromkeys(self.dirs.values()))


@dataclass(frozen=True)
class CgroupTree:
    """Where runs' cgroups are made: one v2 directory, or one directory per v1 hierarchy."""

    version: Literal[1, 2]
    bases: dict[str, Path]

    def describe(self) -> str:
        if self.version == 2:
            controllers = (self.bases["unified"] / "cgroup.subtree_control").read_text().split()
            return f"cgroup v2 ({', '.join(controllers)}) under {self.bases['unified']}"
        places = ", ".join(f"{name} {path}" for name, path in self.bases.items())
        return f"cgroup v1 ({places})"

    @asynccontextmanager
    async def run_cgroup(
        self, limits: Limits, extra_processes: int = 0
    ) -> AsyncIterator[RunCgroup]:
        """A fresh cgroup bounding one run by `limits` (its processes: `limits.processes` plus
        `extra_processes` the sandbox itself runs), removed with everything in it on exit.

        Raises:
            SandboxError: the cgroup could not be made.
        """
        loop = asyncio.get_running_loop()
        cgroup = self.create(limits, extra_processes)
        try:
            cgroup.watch_oom(loop)
            yield cgroup
        finally:
            await cgroup.remove(loop)

    def create(self, limits: Limits, extra_processes: int) -> RunCgroup:
        name = f"{RUN_PREFIX}-{os.getpid()}-{next(_runs)}"
        cgroup = RunCgroup(self.version, {key: base / name for key, base in self.bases.items()})
        settings = _settings(self.version, set(self.bases), limits, extra_processes)
        try:
            for directory in cgroup._unique_dirs():
                directory.mkdir()
            for (key, filename), value in settings.items():
                path = cgroup.dirs[key] / filename
                if path.exists():
                    path.write_text(value)
        except OSError as error:
            cgroup.remove_empty()
            raise SandboxError(f"cannot make the run's cgroup {name}: {error}") from None
        return cgroup


def _settings(
    version: int, keys: set[str], limits: Limits, extra_processes: int
) -> dict[tuple[str, str], str]:
    """(controller, file) -> value; files this kernel lacks (swap accounting) are skipped."""
    memory = str(limits.memory_mb << 20)
    pids = str(limits.processes + extra_processes)
    quota = f"{round(limits.cpus * CPU_PERIOD_US)}"
    if version == 2:
        values = {
            "memory.max": memory,
            "memory.swap.max": "0",
            "memory.oom.group": "1",
            "pids.max": pids,
            "cpu.max": f"{quota} {CPU_PERIOD_US}",
        }
        return {("unified", name): value for name, value in values.items()}
    settings = {
        ("memory", "memory.limit_in_bytes"): memory,
        ("memory", "memory.memsw.limit_in_bytes"): memory,  # after the limit it must not pass
        ("pids", "pids.max"): pids,
    }
    if "cpu" in keys:
        settings[("cpu", "cpu.cfs_period_us")] = str(CPU_PERIOD_US)
        settings[("cpu", "cpu.cfs_quota_us")] = quota
    return settings


@asynccontextmanager
async def run_cgroup(
    tree: CgroupTree | None, limits: Limits, extra_processes: int = 0
) -> AsyncIterator[RunCgroup | None]:
    """`tree.run_cgroup(...)`, or None where there is no cgroup tree (rlimits only)."""
    if tree is None:
        yield None
        return
    async with tree.run_cgroup(limits, extra_processes) as cgroup:
        yield cgroup


def _flat_keyed(path: Path) -> dict[str, int]:
    """A cgroup file of `key value` lines."""
    values = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                values[key] = int(value)
    return values
