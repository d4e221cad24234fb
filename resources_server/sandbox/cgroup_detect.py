"""Finding where this process may give each sandboxed run a cgroup (`cgroups.py` says what a
run's cgroup is): cgroup v2 with delegation first, then v1, else none, said once."""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from resources_server.sandbox.api import Limits, SandboxError
from resources_server.sandbox.cgroups import (
    ENV,
    GATE_SHELL,
    RUN_PREFIX,
    SERVICE_LEAF,
    CgroupTree,
    RunCgroup,
)

__all__ = ["detect_cgroups"]

log = logging.getLogger("rl_gym.sandbox")

_V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
_REQUIRED = {"memory", "pids"}


@functools.cache
def detect_cgroups() -> CgroupTree | None:
    """Where this process can give each run a cgroup (probed by making one), or None; logged
    once per process either way."""
    problems = []
    problems += [f"{path} is missing" for path in (GATE_SHELL, ENV) if not os.access(path, os.X_OK)]
    for find in (_v2_tree, _v1_tree) if not problems else ():
        try:
            tree = find()
            tree.create(Limits(), extra_processes=0).remove_empty()
        except (OSError, SandboxError, _Unavailable, ValueError) as error:
            problems.append(str(error))
            continue
        log.info("sandbox: each run gets its own cgroup: %s", tree.describe())
        _remove_stale(tree)
        return tree
    log.warning(
        "sandbox: no cgroup to give each run (%s): memory, CPU time and processes are bounded "
        "per process by rlimits only, so one run's processes together may use more",
        "; ".join(problems),
    )
    return None


def _remove_stale(tree: CgroupTree) -> None:
    """Remove the run cgroups a server that died (killed, never cleaned up) left behind: those
    named after a process that no longer exists."""
    for base in tree.bases.values():
        for directory in base.glob(f"{RUN_PREFIX}-*-*"):
            owner = directory.name.removeprefix(f"{RUN_PREFIX}-").split("-")[0]
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                key = "unified" if tree.version == 2 else "stale"
                RunCgroup(tree.version, {key: directory}).kill()
                with contextlib.suppress(OSError):
                    directory.rmdir()


class _Unavailable(Exception):
    """This kind of cgroup is not offered here (the message says why)."""


def _v2_tree() -> CgroupTree:
    own = _own_cgroups().get("")
    mount = next((m for m in _mounts() if m.fstype == "cgroup2"), None)
    if own is None or mount is None:
        raise _Unavailable("no cgroup v2 hierarchy")
    base = mount.directory_of(own)
    if base.name == SERVICE_LEAF:  # another service of this stack has prepared the parent
        base = base.parent
    available = set((base / "cgroup.controllers").read_text().split())
    if not available >= _REQUIRED:
        raise _Unavailable(f"cgroup v2 at {base} lacks the memory and pids controllers")
    if not os.access(base / "cgroup.subtree_control", os.W_OK):
        raise _Unavailable(f"cgroup v2 at {base} is not delegated to this user")
    wanted = " ".join(f"+{name}" for name in sorted(available & {"memory", "pids", "cpu"}))
    try:
        (base / "cgroup.subtree_control").write_text(wanted)
    except OSError as error:
        if error.errno != errno.EBUSY:
            raise
        # It holds processes (ours, at least, and those of the services started with us):
        # they all move to a leaf, and runs go beside it.
        leaf = base / SERVICE_LEAF
        leaf.mkdir(exist_ok=True)
        for pid in (base / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError, OSError):
                (leaf / "cgroup.procs").write_text(pid)
        (base / "cgroup.subtree_control").write_text(wanted)
    return CgroupTree(2, {"unified": base})


def _v1_tree() -> CgroupTree:
    own = _own_cgroups()
    bases: dict[str, Path] = {}
    for controller in _V1_CONTROLLERS:
        mount = next((m for m in _mounts() if controller in m.controllers), None)
        if mount is not None and controller in own:
            base = mount.directory_of(own[controller])
            if os.access(base, os.W_OK):
                bases[controller] = base
    if not set(bases) >= _REQUIRED:
        raise _Unavailable("no writable cgroup v1 memory and pids hierarchies")
    return CgroupTree(1, bases)


@dataclass(frozen=True)
class _Mount:
    root: str
    mountpoint: Path
    fstype: str
    controllers: frozenset[str]

    def directory_of(self, cgroup: str) -> Path:
        """The directory of `cgroup` (a path in the hierarchy) under this mount."""
        relative = os.path.relpath(cgroup, self.root)
        if relative.startswith(".."):
            raise _Unavailable(f"this process's cgroup {cgroup} is outside {self.mountpoint}")
        return (self.mountpoint / relative).resolve()


def _mounts() -> list[_Mount]:
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, rest = line.partition(" - ")
        fstype, _, options = rest.split(" ", 2)
        if fstype in ("cgroup", "cgroup2"):
            parts = fields.split()
            controllers = frozenset(options.split(","))
            mounts.append(_Mount(parts[3], Path(parts[4]), fstype, controllers))
    return mounts


def _own_cgroups() -> dict[str, str]:
    """Controller -> this process's cgroup path in that hierarchy ("" for v2)."""
    own: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    return own
