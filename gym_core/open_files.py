"""The open-file limit, sized at start from the connections a service is configured to hold.

Every connection is a file descriptor, and the common default soft limit (1,024) is far below
what a few thousand concurrent rollouts hold: past it, `accept` and `connect` fail with "Too
many open files" and rollouts fail for no reason of their own. A service therefore raises its
soft limit (as far as the hard limit allows, as Go programs do at start), and refuses to start,
with one line naming the setting, when even the hard limit is below what it needs.
"""

from __future__ import annotations

import resource

from gym_core.errors import ConfigError

__all__ = ["OPEN_FILES_RESERVE", "open_files_needed", "raise_open_file_limit"]

OPEN_FILES_RESERVE = 256
"""Descriptors beyond the connections: the interpreter, its libraries, logs, worker pipes."""


def open_files_needed(connections: int) -> int:
    """Descriptors for `connections` sockets and the process around them."""
    return connections + OPEN_FILES_RESERVE


def raise_open_file_limit(needed: int, because: str = "") -> int:
    """Raise the soft open-file limit to the hard limit (or to `needed` when the hard limit is
    unlimited); the new soft limit.

    Raises:
        ConfigError: the hard limit is below `needed`; the message says what needs them
            (`because`) and how to fix it.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        reason = f" for {because}" if because else ""
        raise ConfigError(
            f"this service needs {needed} open files{reason}, but the hard limit is {hard}: "
            f"raise it (ulimit -Hn {needed}, or LimitNOFILE in a systemd unit) or lower the "
            "concurrency"
        )
    target = max(soft, needed) if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as error:
            if soft >= needed:
                return soft
            raise ConfigError(
                f"this service needs {needed} open files but cannot raise its limit of {soft}: "
                f"{error}"
            ) from None
        return target
    return soft
