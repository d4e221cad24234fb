"""Process hygiene shared by every process RL Gym starts: none outlives the one that started it."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int | None = None) -> None:
    """Have the kernel send SIGTERM to this process when its parent dies (Linux).

    Pass the parent's pid as seen before a fork: if it is already gone, exit now rather than
    linger as an orphan.
    """
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)
