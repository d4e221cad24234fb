"""The bubblewrap backend: what a program gets, how it ends, and how the sandbox fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from resources_server.sandbox import PROGRAM_FILE, Limits, SandboxError
from resources_server.sandbox.bubblewrap import BubblewrapSandbox
from tests.resources_server.sandbox.helpers import (
    leftover_cgroups,
    leftover_processes,
    sandbox_processes,
)


@pytest.fixture
async def sandbox() -> AsyncIterator[BubblewrapSandbox]:
    sandbox = BubblewrapSandbox(Limits(cpu_time_s=2, wall_time_s=10), max_concurrency=2)
    yield sandbox
    assert await leftover_processes(sandbox) == []
    assert leftover_cgroups() == []


async def test_a_program_gets_its_stdin_and_files(sandbox: BubblewrapSandbox) -> None:
    result = await sandbox.run(
        program="import os\nprint(input()[::-1])\nprint(open('data/a.txt').read(), os.getcwd())",
        files={"data/a.txt": "alpha beta"},
        stdin="hello\n",
    )
    assert result.ok
    assert result.stdout == "olleh\nalpha beta /work\n"
    assert result.stderr == ""
    assert result.cpu_time_s is not None
    assert result.cpu_time_s > 0
    assert result.wall_time_s > 0


async def test_a_command_runs_in_the_work_directory(sandbox: BubblewrapSandbox) -> None:
    result = await sandbox.run(
        [sandbox.python, "-c", "import sys; print(sys.argv[1:])", "a", "b"],
        files={PROGRAM_FILE: "unused"},
    )
    assert result.stdout == "['a', 'b']\n"


@pytest.mark.parametrize(
    ("program", "exit_code"),
    [
        ("import sys; sys.exit(3)", 3),
        ("raise ValueError('boom')", 1),
        ("import ctypes; ctypes.string_at(0)", 139),  # a real segfault: 128 + SIGSEGV
    ],
)
async def test_exit_codes(sandbox: BubblewrapSandbox, program: str, exit_code: int) -> None:
    result = await sandbox.run(program=program)
    assert result.exit_code == exit_code
    assert not result.ok
    assert not result.timed_out


async def test_limits_can_be_set_per_run(sandbox: BubblewrapSandbox) -> None:
    small = Limits(output_bytes=10)
    result = await sandbox.run(program="print('x' * 100)", limits=small)
    assert result.output_truncated
    assert result.stdout == "x" * 10


async def test_concurrent_runs_get_their_own_host_uid(sandbox: BubblewrapSandbox) -> None:
    if sandbox.first_uid is None:
        pytest.skip("the server does not run as root: programs run as its own user")
    sleepers = [asyncio.create_task(sandbox.run(program="import time\ntime.sleep(30)"))]
    sleepers.append(asyncio.create_task(sandbox.run(program="import time\ntime.sleep(30)")))
    expected = {sandbox.first_uid, sandbox.first_uid + 1}
    for _ in range(200):
        if set(sandbox_processes(sandbox).values()) == expected:
            break
        await asyncio.sleep(0.05)
    assert set(sandbox_processes(sandbox).values()) == expected
    for sleeper in sleepers:
        sleeper.cancel()
    await asyncio.gather(*sleepers, return_exceptions=True)


async def test_a_burst_waits_for_free_slots() -> None:
    running = 0
    most = 0

    class Counting(BubblewrapSandbox):
        async def _execute(self, *args: object) -> object:  # type: ignore[override]
            nonlocal running, most
            running += 1
            most = max(most, running)
            try:
                return await super()._execute(*args)  # type: ignore[arg-type]
            finally:
                running -= 1

    sandbox = Counting(Limits(), max_concurrency=2)
    results = await asyncio.gather(*(sandbox.run(program=f"print({i})") for i in range(8)))
    assert [result.stdout for result in results] == [f"{i}\n" for i in range(8)]
    assert most == 2


async def test_a_cancelled_run_leaves_nothing_behind(sandbox: BubblewrapSandbox) -> None:
    run = asyncio.create_task(sandbox.run(program="import time\ntime.sleep(60)"))
    await asyncio.sleep(0.5)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert await leftover_processes(sandbox) == []


async def test_a_sandbox_that_cannot_start_raises(sandbox: BubblewrapSandbox) -> None:
    sandbox._fixed_args += ["--ro-bind", "/no/such/directory", "/mnt"]
    with pytest.raises(SandboxError, match="bubblewrap could not start the program: .*no/such"):
        await sandbox.run(program="print(1)")


async def test_a_program_cannot_pass_for_a_broken_sandbox(sandbox: BubblewrapSandbox) -> None:
    result = await sandbox.run(
        program="import sys\nprint('bwrap: Can\\'t find source path', file=sys.stderr)\nsys.exit(1)"
    )
    assert result.exit_code == 1


async def test_a_missing_interpreter_is_a_clear_error() -> None:
    with pytest.raises(SandboxError, match="/no/python: no such file"):
        BubblewrapSandbox(Limits(), max_concurrency=1, python="/no/python")


async def test_check_passes(sandbox: BubblewrapSandbox) -> None:
    await sandbox.check()


@pytest.mark.parametrize("name", ["/etc/passwd", "../up.txt", "a/../../b", ""])
async def test_file_names_must_stay_inside(sandbox: BubblewrapSandbox, name: str) -> None:
    with pytest.raises(ValueError, match="must be a relative path inside the work directory"):
        await sandbox.run(program="print(1)", files={name: "x"})
