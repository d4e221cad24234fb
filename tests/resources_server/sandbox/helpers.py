"""Shared by the sandbox tests: a hostile run beside a good one, and the host's view of the
processes a sandbox runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from resources_server.sandbox import RunResult, Sandbox
from resources_server.sandbox.bubblewrap import BubblewrapSandbox

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


def _uid_of(process: Path) -> int | None:
    try:
        status = (process / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    return None
