"""Shared by the sandbox tests: a hostile run beside a good one, the host's view of the
processes a sandbox runs, and the Docker engine (with its image) the docker tests run on."""

from __future__ import annotations

import asyncio
import functools
import os
from pathlib import Path

import pytest

from resources_server.sandbox import RunResult, Sandbox, SandboxError
from resources_server.sandbox.bubblewrap import BubblewrapSandbox
from resources_server.sandbox.cgroup_detect import detect_cgroups

DOCKER_IMAGE = os.environ.get("RL_GYM_DOCKER_IMAGE", "rl-gym/sandbox:bookworm")
"""The image `.ci/docker_env` builds (Debian with python3, imported from debootstrap)."""

GOOD_PROGRAM = "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n"


async def run_beside_a_good_one(sandbox: Sandbox, program: str) -> RunResult:
    """Run `program` while a well-behaved program runs too; the good one must be untouched."""
    hostile, good = await asyncio.gather(
        sandbox.run(program=program), sandbox.run(program=GOOD_PROGRAM, stdin="1 2 3 4\n")
    )
    assert good.stdout == "10\n"
    assert good.ok
    return hostile


def sandbox_processes(sandbox: BubblewrapSandbox) -> dict[int, int]:
    """pid -> host uid of every process running as one of the sandbox's host uids (none
    under a non-root server, whose sandboxes run as its own user)."""
    if sandbox.first_uid is None:
        return {}
    uids = range(sandbox.first_uid, sandbox.first_uid + sandbox.max_concurrency)
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (uid := _uid_of(entry)) in uids:
            found[int(entry.name)] = uid
    return found


async def leftover_processes(sandbox: BubblewrapSandbox, wait_s: float = 10.0) -> list[int]:
    """The sandbox's processes still there after giving the kernel `wait_s` to tear the last
    pid namespace down (and the loop the time to reap)."""
    for _ in range(int(wait_s / 0.05)):
        left = sorted(sandbox_processes(sandbox))
        if not left:
            return []
        await asyncio.sleep(0.05)
    return left


def leftover_cgroups() -> list[Path]:
    """Run cgroups this process made that are still there (none once every run is over)."""
    tree = detect_cgroups()
    if tree is None:
        return []
    prefix = f"rl-gym-run-{os.getpid()}-"
    return sorted(path for base in tree.bases.values() for path in base.glob(f"{prefix}*"))


def _uid_of(process: Path) -> int | None:
    try:
        status = (process / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return None


@functools.cache
def docker_problem() -> str | None:
    """Why the docker tests cannot run here, or None when they can."""
    try:
        import docker
    except ImportError:
        return "the Docker SDK is not installed (pip install 'rl-gym[docker]')"
    from resources_server.sandbox.docker import connect

    try:
        client = connect()
    except SandboxError as error:
        return f"{error}; `bash .ci/docker_env` sets one up"
    try:
        client.images.get(DOCKER_IMAGE)
    except docker.errors.ImageNotFound:
        return f"the image {DOCKER_IMAGE} is not present: `bash .ci/docker_env` builds it"
    finally:
        client.close()
    return None


needs_docker = pytest.mark.skipif(docker_problem() is not None, reason=str(docker_problem()))

FORK_BOMB_COUNT = """
import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        children += 1
except OSError as error:
    print(children, type(error).__name__)
"""
"""Forks children that wait until the process limit refuses one; prints how many it made."""
