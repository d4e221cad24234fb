"""The docker backend: real runs where an engine is reachable, a clear error where not."""

from __future__ import annotations

import functools

import pytest

from resources_server.sandbox import Limits, SandboxError
from resources_server.sandbox.docker import DEFAULT_IMAGE, DockerSandbox, connect


@functools.cache
def engine_problem() -> str | None:
    """Why the docker tests cannot run here, or None when they can."""
    try:
        import docker
    except ImportError:
        return "the Docker SDK is not installed (pip install 'rl-gym[docker]')"
    try:
        client = connect()
    except SandboxError as error:
        return str(error)
    try:
        client.images.get(DEFAULT_IMAGE)
    except docker.errors.ImageNotFound:
        return f"the image {DEFAULT_IMAGE} is not present (docker pull {DEFAULT_IMAGE})"
    finally:
        client.close()
    return None


needs_engine = pytest.mark.skipif(engine_problem() is not None, reason=str(engine_problem() or ""))


async def test_without_an_engine_the_error_says_so() -> None:
    if engine_problem() is None:
        pytest.skip("a Docker engine is reachable here")
    if engine_problem().startswith("the Docker SDK"):  # type: ignore[union-attr]
        with pytest.raises(SandboxError, match=r"pip install 'rl-gym\[docker\]'"):
            DockerSandbox(Limits(), max_concurrency=1)
        return
    sandbox = DockerSandbox(Limits(), max_concurrency=1)
    with pytest.raises(SandboxError, match="cannot reach a Docker engine"):
        await sandbox.check()


@needs_engine
async def test_a_program_runs_with_its_files_and_stdin() -> None:
    sandbox = DockerSandbox(Limits(), max_concurrency=1)
    try:
        await sandbox.check()
        result = await sandbox.run(
            program="print(open('data/a.txt').read(), input())",
            files={"data/a.txt": "alpha"},
            stdin="typed\n",
        )
        assert result.stdout == "alpha typed\n"
    finally:
        await sandbox.close()


@needs_engine
async def test_no_network_and_limits_hold() -> None:
    sandbox = DockerSandbox(Limits(cpu_time_s=1, wall_time_s=10, memory_mb=128), 2)
    try:
        network = await sandbox.run(
            program="import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), 2)\n"
            "    print('CONNECTED')\nexcept OSError:\n    print('blocked')"
        )
        assert network.stdout == "blocked\n"
        spin = await sandbox.run(program="while True:\n    pass")
        assert spin.timed_out
        memory = await sandbox.run(program="x = bytearray(1 << 30)")
        assert memory.out_of_memory
        sleeper = await sandbox.run(program="import time\ntime.sleep(60)")
        assert sleeper.timed_out
        assert sleeper.exit_code is None
    finally:
        await sandbox.close()
