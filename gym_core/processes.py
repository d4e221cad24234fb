"""Process hygiene shared by every process RL Gym starts: none outlives the one that started it."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from multiprocessing import forkserver
from typing import Any

__all__ = ["die_with_parent", "forget_parents_fork_server"]

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


def forget_parents_fork_server() -> None:
    """Let a process made by `os.fork` start its own multiprocessing fork server.

    The child inherits the parent's record of a fork server the parent already runs, which it
    cannot use: the server is not its child, so multiprocessing's liveness check
    (`os.waitpid`) fails and every pool the child starts breaks. Python offers no public reset.
    """
    server: Any = forkserver._forkserver  # type: ignore[attr-defined]
    if server._forkserver_alive_fd is not None:
        os.close(server._forkserver_alive_fd)
    server._forkserver_address = None
    server._forkserver_alive_fd = None
    server._forkserver_pid = None
    server._inherited_fds = None
    server._lock = threading.Lock()
