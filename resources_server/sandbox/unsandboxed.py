"""Running programs with no isolation at all: only for a user who says so explicitly.

The program runs as this server's user, sees the network, the whole file system and every
process; only the rlimits (`prlimit`), a private temporary working directory and an empty
environment remain. When the server runs as root, even the process limit is not enforced.
Where the machine offers one, each run also gets a cgroup of its own (`cgroups.py`), which
bounds its processes even under root. Use it to develop on a machine where neither bubblewrap
nor a Docker engine can run, never for model-written code you have not read.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from pathlib import Path

from resources_server.sandbox.api import Limits, RunResult, Sandbox
from resources_server.sandbox.cgroup_detect import detect_cgroups
from resources_server.sandbox.cgroups import run_cgroup
from resources_server.sandbox.executables import find_interpreter, find_prlimit
from resources_server.sandbox.process import data_fd, run_process
from resources_server.sandbox.rlimits import prlimit_command, result_of

__all__ = ["UnsandboxedRunner"]

log = logging.getLogger("rl_gym.sandbox")

WARNING = (
    "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    "\n!! The sandbox backend is `unsandboxed`: model-written code runs WITHOUT ISOLATION, as"
    "\n!! this server's user, with the network, every file and every process within reach."
    "\n!! Only rlimits bound it. Use `backend: bubblewrap` (or `docker`) for anything real."
    "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
)


class UnsandboxedRunner(Sandbox):
    name = "unsandboxed"

    def __init__(
        self,
        limits: Limits,
        max_concurrency: int,
        *,
        python: str | None = None,
        cgroups: bool = True,
    ):
        super().__init__(limits, max_concurrency)
        log.warning(WARNING)
        self.cgroups = detect_cgroups() if cgroups else None
        self.prlimit = find_prlimit()
        interpreter = find_interpreter(python, for_other_users=False)
        self.python = str(interpreter)
        self._search_path = f"{interpreter.parent}:/usr/local/bin:/usr/bin:/bin"

    async def _execute(
        self, argv: list[str], files: dict[str, bytes], stdin: bytes, limits: Limits, slot: int
    ) -> RunResult:
        workdir = Path(tempfile.mkdtemp(prefix="rlgym-unsandboxed-"))
        stdin_fd = data_fd("stdin", stdin)
        try:
            for name, data in files.items():
                (workdir / name).parent.mkdir(parents=True, exist_ok=True)
                (workdir / name).write_bytes(data)
            environment = {
                "HOME": str(workdir),
                "TMPDIR": str(workdir),
                "LANG": "C.UTF-8",
                "PATH": self._search_path,
            }
            async with run_cgroup(self.cgroups, limits) as cgroup:
                finished = await run_process(
                    [*prlimit_command(self.prlimit, limits), *argv],
                    stdin=stdin_fd,
                    cwd=str(workdir),
                    env=environment,
                    output_limit=limits.output_bytes,
                    wall_time_s=limits.wall_time_s,
                    cgroup=cgroup,
                )
        finally:
            os.close(stdin_fd)
            await asyncio.to_thread(shutil.rmtree, workdir, True)
        return result_of(finished, limits)
