"""The docker backend: real runs against the engine CI sets up (`.ci/docker_env`), a clear error
where none is reachable."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from resources_server.sandbox import Limits, SandboxError
from resources_server.sandbox.docker import DockerSandbox
from tests.resources_server.sandbox.helpers import DOCKER_IMAGE, docker_problem, needs_docker


@pytest.fixture
async def sandbox() -> AsyncIterator[DockerSandbox]:
    limits = Limits(cpu_time_s=1, wall_time_s=10, memory_mb=128, processes=16, disk_mb=8)
    sandbox = DockerSandbox(limits, max_concurrency=2, image=DOCKER_IMAGE)
    yield sandbox
    await sandbox.close()


async def test_without_an_engine_the_error_says_so() -> None:
    problem = docker_problem()
    if problem is None:
        pytest.skip("a Docker engine is reachable here")
    if problem.startswith("the Docker SDK"):
        with pytest.raises(SandboxError, match=r"pip install 'rl-gym\[docker\]'"):
            DockerSandbox(Limits(), max_concurrency=1)
        return
    sandbox = DockerSandbox(Limits(), max_concurrency=1)
    with pytest.raises(SandboxError, match="cannot reach a Docker engine|is not present"):
        await sandbox.check()


@needs_docker
async def test_a_program_runs_with_its_files_and_stdin(sandbox: DockerSandbox) -> None:
    await sandbox.check()
    result = await sandbox.run(
        program="import os\nprint(open('data/a.txt').read(), input(), os.getcwd())",
        files={"data/a.txt": "alpha"},
        stdin="typed\n",
    )
    assert result.stdout == "alpha typed /work\n"
    assert result.ok


@needs_docker
async def test_a_missing_image_is_a_clear_error() -> None:
    sandbox = DockerSandbox(Limits(), max_concurrency=1, image="rl-gym/no-such-image:0")
    try:
        with pytest.raises(SandboxError, match="rl-gym/no-such-image:0' is not present"):
            await sandbox.run(program="print(1)")
    finally:
        await sandbox.close()


@needs_docker
async def test_no_network_and_limits_hold(sandbox: DockerSandbox) -> None:
    network = await sandbox.run(
        program="import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), 2)\n"
        "    print('CONNECTED')\nexcept OSError:\n    print('blocked')"
    )
    assert network.stdout == "blocked\n"
    spin = await sandbox.run(program="while True:\n    pass")
    assert spin.timed_out
    memory = await sandbox.run(program="x = bytearray(1 << 30)")
    assert memory.out_of_memory
    assert not memory.timed_out
    sleeper = await sandbox.run(program="import time\ntime.sleep(60)")
    assert sleeper.timed_out
    assert sleeper.exit_code is None


@needs_docker
async def test_the_work_directory_is_bounded(sandbox: DockerSandbox) -> None:
    result = await sandbox.run(
        program="""
chunk = b"x" * (1 << 20)
written = 0
try:
    for index in range(100):
        with open(f"part{index}", "wb") as part:
            part.write(chunk)
        written += 1
except OSError as error:
    print("disk:", error.strerror)
print(written < 8)
"""
    )
    assert result.stdout == "disk: No space left on device\nTrue\n"
    assert result.exit_code == 0


@needs_docker
async def test_files_larger_than_the_work_directory_fail_the_run_cleanly(
    sandbox: DockerSandbox,
) -> None:
    result = await sandbox.run(program="print('ran')", files={"big.bin": b"x" * (9 << 20)})
    assert result.exit_code != 0
    assert result.stdout == ""
    assert "No space left on device" in result.stderr
