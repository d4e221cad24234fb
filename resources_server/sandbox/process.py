"""One child process run without blocking the event loop: output read with a cap, a
wall-clock bound, the whole process group killed on either, and its CPU time measured.

We reap the child ourselves (a pidfd says when it has exited, then `wait4`), because only
`wait4` gives its resource usage, which includes every descendant it waited for: for
bubblewrap that is the whole sandbox.

Given a cgroup, the child starts as a tiny shell that waits at a gate (a pipe) until we have
put it in the cgroup, then executes `argv`: nothing of the run ever runs outside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from resources_server.sandbox.cgroups import RunCgroup, gated

__all__ = ["Finished", "data_fd", "kill_group", "run_process"]

READ_CHUNK = 1 << 16
DRAIN_TIMEOUT_S = 2.0
"""After the child exits, how long a descendant may keep its output pipes open."""


@dataclass
class Finished:
    exit_code: int | None
    """The exit status, 128+N when signal N ended it; None when we killed it."""
    stdout: bytes
    stderr: bytes
    wall_time_s: float
    cpu_time_s: float
    """User plus system time of the run: its reaped processes, or, when the wall clock stopped
    it, every process that was running then, whichever is more."""
    stopped_for: Literal["wall_time", "output"] | None
    output_truncated: bool
    oom_killed: bool = False
    """The kernel's OOM killer struck the run's cgroup (and then the whole run ended)."""


class _Capture:
    """Reads one pipe as data arrives; keeps the first `limit` bytes."""

    def __init__(self, pipe: int, limit: int, on_overflow: Callable[[], None]) -> None:
        self.pipe = pipe
        self.limit = limit
        self.data = bytearray()
        self.truncated = False
        self._on_overflow = on_overflow
        self.closed = asyncio.get_running_loop().create_future()
        os.set_blocking(pipe, False)
        asyncio.get_running_loop().add_reader(pipe, self._readable)

    def _readable(self) -> None:
        try:
            chunk = os.read(self.pipe, READ_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.close()
            return
        room = self.limit - len(self.data)
        self.data += chunk[:room]
        if len(chunk) > room and not self.truncated:
            self.truncated = True
            self._on_overflow()

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.pipe)
        if not self.closed.done():
            self.closed.set_result(None)


async def run_process(
    argv: Sequence[str],
    *,
    stdin: int,
    output_limit: int,
    wall_time_s: float,
    pass_fds: Sequence[int] = (),
    user: int | None = None,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    stop: Callable[[int], None] | None = None,
    cgroup: RunCgroup | None = None,
) -> Finished:
    """Run `argv` in a new session, `stdin` (a file descriptor) as its standard input, and
    in `cgroup` when given.

    The child is stopped when `wall_time_s` passes or when stdout or stderr exceeds
    `output_limit`, and when this coroutine is cancelled: by `stop(pid)` when given, else by
    killing its process group.
    """
    stop_child = stop or kill_group
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    gate = os.pipe() if cgroup is not None else None
    if gate is not None:
        argv = gated(argv, gate[0], env or {})
        pass_fds = (*pass_fds, gate[0])
    # Spawning is as quick as in asyncio's own subprocess support, which also calls Popen on
    # the loop; we keep the Popen to reap the child ourselves.
    try:
        process = subprocess.Popen(  # noqa: ASYNC220
            argv,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=tuple(pass_fds),
            user=user,
            group=user,
            extra_groups=[] if user is not None else None,
            cwd=cwd,
            env=env if env is not None else {},
            start_new_session=True,
        )
    finally:
        if gate is not None:
            os.close(gate[0])
    if gate is not None and cgroup is not None:
        _enter(process, cgroup, gate[1])
    assert process.stdout is not None
    assert process.stderr is not None
    pidfd = os.pidfd_open(process.pid)
    exited: asyncio.Future[None] = loop.create_future()

    def on_exit() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(pidfd, on_exit)
    stopped_for: Literal["wall_time", "output"] | None = None

    def stop_for_output() -> None:
        nonlocal stopped_for
        stopped_for = stopped_for or "output"
        stop_child(process.pid)

    outputs = [
        _Capture(process.stdout.fileno(), output_limit, stop_for_output),
        _Capture(process.stderr.fileno(), output_limit, stop_for_output),
    ]
    reaped = False
    running_cpu_s = 0.0
    try:
        try:
            await asyncio.wait_for(asyncio.shield(exited), wall_time_s)
        except TimeoutError:
            stopped_for = stopped_for or "wall_time"
            running_cpu_s = tree_cpu_s(process.pid)  # before the kill takes them away
            stop_child(process.pid)
            await exited
        _, status, usage = os.wait4(process.pid, 0)  # noqa: ASYNC222 (it has exited)
        reaped = True
        process.returncode = os.waitstatus_to_exitcode(status)
        if cgroup is not None:
            cgroup.kill()  # the run ends with its first process: nothing of it lingers
        elapsed = time.monotonic() - started
        # A descendant that escaped the process group may hold the pipes open: give up on it.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(output.closed for output in outputs)), DRAIN_TIMEOUT_S
            )
    finally:
        loop.remove_reader(pidfd)
        for output in outputs:
            output.close()
        process.stdout.close()
        process.stderr.close()
        if not reaped:
            stop_child(process.pid)
            _reap_when_exited(process, pidfd)
        else:
            os.close(pidfd)
    code = process.returncode
    cgroup_cpu_s = (cgroup.cpu_time_s() if cgroup is not None else None) or 0.0
    return Finished(
        exit_code=None if stopped_for else (128 - code if code < 0 else code),
        stdout=bytes(outputs[0].data),
        stderr=bytes(outputs[1].data),
        wall_time_s=elapsed,
        cpu_time_s=max(usage.ru_utime + usage.ru_stime, running_cpu_s, cgroup_cpu_s),
        stopped_for=stopped_for,
        output_truncated=any(output.truncated for output in outputs),
        oom_killed=cgroup is not None and cgroup.oom_killed(),
    )


def _enter(process: subprocess.Popen[bytes], cgroup: RunCgroup, gate: int) -> None:
    """Put the child, waiting at its gate, in `cgroup`, then let it go (or kill it)."""
    try:
        cgroup.attach(process.pid)
        os.write(gate, b"go\n")
    except BaseException:
        kill_group(process.pid)
        process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
        raise
    finally:
        os.close(gate)


def tree_cpu_s(pid: int) -> float:
    """CPU seconds used so far by `pid` and every live descendant (from /proc): what a run
    stopped by the wall clock computed, many processes included, which rusage would miss
    (the kill takes them before anyone waits for them)."""
    total_ticks = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total_ticks += int(fields[11]) + int(fields[12])  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue  # it exited meanwhile
    return total_ticks / os.sysconf("SC_CLK_TCK")


def kill_group(pid: int) -> None:
    """SIGKILL the child and its process group (called only before the child is reaped, so
    the ids cannot have been reused)."""
    for kill, target in ((os.killpg, pid), (os.kill, pid)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(target, signal.SIGKILL)


def _reap_when_exited(process: subprocess.Popen[bytes], pidfd: int) -> None:
    """On cancellation: collect the killed child once it is gone, without waiting for it."""
    loop = asyncio.get_running_loop()

    def reap() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)

    loop.add_reader(pidfd, reap)


def data_fd(name: str, data: bytes) -> int:
    """A file descriptor reading `data` from its start: an anonymous in-memory file, so
    staging a run's stdin and files never touches the disk. The caller closes it."""
    fd = os.memfd_create(name)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
