"""Limits enforced by the kernel's rlimits, set by `prlimit` just before the program starts,
and a finished run read against them.

`prlimit` runs as the last step inside the sandbox, so the limits bind only the program,
never bubblewrap; and inside bubblewrap's user namespace the process count is the
namespace's own, so one run's processes never eat into another's budget.
"""

from __future__ import annotations

import signal
from pathlib import Path

from resources_server.sandbox.api import Limits, RunResult, decode, out_of_memory
from resources_server.sandbox.process import Finished

__all__ = ["CPU_SIGNALS", "MB", "prlimit_command", "result_of"]

MB = 1 << 20
CPU_SIGNALS = {128 + signal.SIGXCPU, 128 + signal.SIGKILL}
CPU_ACCOUNTING_SLACK = 0.5
"""The usage the kernel reports (rusage, sampled at ticks) for a process it killed at its CPU
limit falls short of the limit, by 11% seen on a saturated machine; so a SIGKILL after at
least half the budget is the CPU limit. Nothing else here sends SIGKILL but the OOM killer,
which strikes a program that allocates, long before it has computed for that long."""


def prlimit_command(prlimit: Path, limits: Limits) -> list[str]:
    """`prlimit` with every limit, ready for the program's argv to follow.

    CPU time: SIGKILL at the limit. (SIGXCPU would be the polite warning, but under
    bubblewrap the program is the pid namespace's init, which ignores it.)
    """
    return [
        str(prlimit),
        f"--cpu={limits.cpu_time_s}",
        f"--as={limits.memory_mb * MB}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_size_mb * MB}",
        f"--nofile={limits.open_files}",
        "--core=0",
        "--",
    ]


def result_of(finished: Finished, limits: Limits) -> RunResult:
    """The run's result: a CPU timeout is a death by SIGXCPU (only RLIMIT_CPU sends it), or
    by SIGKILL after the budget (the hard limit) unless the OOM killer struck the run."""
    cpu_spent = finished.exit_code == 128 + signal.SIGXCPU or (
        finished.exit_code in CPU_SIGNALS
        and not finished.oom_killed
        and finished.cpu_time_s >= CPU_ACCOUNTING_SLACK * limits.cpu_time_s
    )
    # Stopped by the wall clock having computed less than one process's budget in all: it
    # waited (for a core, or asleep). Many processes that computed more (a fork bomb) did
    # not wait: that is the program's timeout.
    wall_clock_stopped = (
        finished.stopped_for == "wall_time"
        and not cpu_spent
        and finished.cpu_time_s < limits.cpu_time_s
    )
    stderr = decode(finished.stderr)
    return RunResult(
        stdout=decode(finished.stdout),
        stderr=stderr,
        exit_code=finished.exit_code,
        wall_time_s=finished.wall_time_s,
        cpu_time_s=finished.cpu_time_s,
        timed_out=cpu_spent or finished.stopped_for == "wall_time",
        wall_clock_stopped=wall_clock_stopped,
        out_of_memory=finished.oom_killed or out_of_memory(finished.exit_code, stderr),
        output_truncated=finished.output_truncated,
    )
