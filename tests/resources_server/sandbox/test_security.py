"""Hostile programs through the real sandboxes (bubblewrap, and docker on the engine CI sets
up): each is contained and gets a clean result, while a well-behaved program running at the
same time gets exactly its answer."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from resources_server.sandbox import Limits, RunResult, Sandbox
from resources_server.sandbox.bubblewrap import BubblewrapSandbox
from resources_server.sandbox.docker import DockerSandbox
from tests.resources_server.sandbox.helpers import (
    DOCKER_IMAGE,
    FORK_BOMB_COUNT,
    leftover_processes,
    needs_docker,
    run_beside_a_good_one,
)

REPO = Path(__file__).resolve().parents[3]
LIMITS = Limits(
    cpu_time_s=1,
    wall_time_s=4,
    memory_mb=256,
    processes=16,
    output_bytes=100_000,
    file_size_mb=4,
    disk_mb=16,
)


@pytest.fixture(params=["bubblewrap", pytest.param("docker", marks=needs_docker)])
async def sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    if request.param == "docker":
        # The wall clock counts the container's start too: slower than bubblewrap's on a busy
        # machine, and a CPU-time limit must be reachable within it.
        limits = LIMITS.model_copy(update={"wall_time_s": 8})
        docker = DockerSandbox(limits, max_concurrency=2, image=DOCKER_IMAGE)
        yield docker
        await docker.close()
        return
    bubblewrap = BubblewrapSandbox(LIMITS, max_concurrency=2)
    yield bubblewrap
    assert await leftover_processes(bubblewrap) == []


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A value only the host knows: in the server's environment and in a host file."""
    value = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv("RLGYM_TEST_SECRET", value)
    (tmp_path / "secret.txt").write_text(value)
    return value


async def hostile(sandbox: Sandbox, program: str) -> RunResult:
    return await run_beside_a_good_one(sandbox, program)


async def test_no_network(sandbox: Sandbox) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        result = await hostile(
            sandbox,
            f"""
import socket
for address in [("1.1.1.1", 53), ("8.8.8.8", 443), ("127.0.0.1", {port})]:
    try:
        socket.create_connection(address, timeout=2).close()
        print(address, "CONNECTED")
    except OSError as error:
        print(address, "blocked", type(error).__name__)
try:
    socket.getaddrinfo("example.com", 80)
    print("RESOLVED")
except OSError as error:
    print("dns blocked", type(error).__name__)
print("interfaces", [name for _, name in socket.if_nameindex()])
""",
        )
    assert result.exit_code == 0
    assert "CONNECTED" not in result.stdout
    assert "RESOLVED" not in result.stdout
    assert result.stdout.count("blocked") == 4
    assert "interfaces ['lo']" in result.stdout


async def test_no_host_files(sandbox: Sandbox, secret: str, tmp_path: Path) -> None:
    paths = [
        REPO / "pyproject.toml",
        REPO / "rl_hub.yaml",
        Path("/etc/shadow"),
        Path("/proc/1/environ"),
        Path("/root"),
        tmp_path / "secret.txt",
    ]
    result = await hostile(
        sandbox,
        f"""
import os
for path in {[str(path) for path in paths]!r}:
    try:
        content = os.listdir(path) if os.path.isdir(path) else open(path, "rb").read(300)
        print(path, "READ", content)
    except OSError as error:
        print(path, "DENIED", type(error).__name__)
""",
    )
    assert result.exit_code == 0
    assert secret not in result.stdout
    for path in paths:
        if path != Path("/proc/1/environ"):  # its own pid 1: itself, with nothing to hide
            assert f"{path} DENIED" in result.stdout


async def test_no_host_environment(sandbox: Sandbox, secret: str) -> None:
    result = await hostile(
        sandbox,
        "import os\nprint(sorted(os.environ))\nprint(open('/proc/self/environ').read())",
    )
    assert secret not in result.stdout
    names = ["HOME", "LANG", "PATH", "PWD", "TMPDIR"]
    if sandbox.name == "docker":
        names.insert(1, "HOSTNAME")  # the engine always sets it: the container's id
    assert result.stdout.splitlines()[0] == repr(names)


async def test_writes_stay_inside_its_directory(sandbox: Sandbox, tmp_path: Path) -> None:
    marker = f"pwned-{uuid.uuid4().hex}"
    targets = [REPO / marker, tmp_path / marker, Path("/usr") / marker, Path("/") / marker]
    targets += [Path("/etc") / marker, Path("/dev") / marker, Path("/tmp") / marker]
    result = await hostile(
        sandbox,
        f"""
for path in {[str(path) for path in targets]!r} + ["/work/{marker}"]:
    try:
        open(path, "w").write("x")
        print(path, "WROTE")
    except OSError as error:
        print(path, "DENIED", type(error).__name__)
""",
    )
    assert result.exit_code == 0
    assert f"/work/{marker} WROTE" in result.stdout
    assert f"/tmp/{marker} WROTE" in result.stdout  # /tmp is its own work directory
    for path in targets:
        assert not path.exists(), path
        if path.parent != Path("/tmp"):
            assert f"{path} DENIED" in result.stdout


@pytest.mark.slow
async def test_a_fork_bomb_is_contained(sandbox: Sandbox) -> None:
    result = await hostile(
        sandbox,
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    )
    assert result.timed_out
    assert result.exit_code != 0


async def test_the_process_limit_holds(sandbox: Sandbox) -> None:
    result = await hostile(sandbox, FORK_BOMB_COUNT)
    assert result.exit_code == 0
    assert result.stdout == f"{LIMITS.processes - 1} BlockingIOError\n"


async def test_a_memory_bomb_runs_out_of_memory(sandbox: Sandbox) -> None:
    result = await hostile(
        sandbox, "chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 1024 * 1024))\n"
    )
    assert result.out_of_memory
    # bubblewrap: RLIMIT_AS fails an allocation (MemoryError); docker: the OOM killer
    assert result.exit_code == (137 if sandbox.name == "docker" else 1)
    assert not result.timed_out


async def test_an_infinite_loop_times_out_on_cpu_time(sandbox: Sandbox) -> None:
    result = await hostile(sandbox, "while True:\n    pass\n")
    assert result.timed_out
    assert result.exit_code == 137
    if sandbox.name == "bubblewrap":  # the engine does not report CPU time
        assert result.cpu_time_s is not None
        assert result.cpu_time_s >= LIMITS.cpu_time_s * 0.5  # rusage falls short under load


@pytest.mark.slow
async def test_sleeping_past_the_limit_is_stopped(sandbox: Sandbox) -> None:
    result = await hostile(
        sandbox, "import time\nprint('going to sleep', flush=True)\ntime.sleep(3600)\n"
    )
    assert result.timed_out
    assert result.exit_code is None
    assert result.stdout == "going to sleep\n"


async def test_gigabytes_of_output_are_cut(sandbox: Sandbox) -> None:
    result = await hostile(
        sandbox,
        "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(4096):\n    sys.stdout.write(chunk)\n",
    )
    assert result.output_truncated
    assert len(result.stdout) == LIMITS.output_bytes
    if sandbox.name == "docker":  # output goes to a file, which stops at file_size_mb
        assert result.stderr.rstrip().endswith("OSError: [Errno 27] File too large")
    else:  # a pipe, which the sandbox stops reading at output_bytes
        assert result.exit_code is None


async def test_huge_files_and_a_full_disk_are_refused(sandbox: Sandbox) -> None:
    result = await hostile(
        sandbox,
        """
chunk = b"x" * (1 << 20)
try:
    with open("huge", "wb") as huge:
        for _ in range(1024):
            huge.write(chunk)
except OSError as error:
    print("huge:", error.strerror)
try:
    for index in range(100):
        with open(f"part{index}", "wb") as part:
            for _ in range(3):
                part.write(chunk)
except OSError as error:
    print("disk:", error.strerror)
""",
    )
    assert result.stdout == "huge: File too large\ndisk: No space left on device\n"


async def test_it_cannot_signal_its_parent_or_the_server(sandbox: Sandbox) -> None:
    result = await hostile(
        sandbox,
        f"""
import os, signal
for name, pid in [("parent", os.getppid()), ("server", {os.getpid()}), ("everyone", -1)]:
    try:
        os.kill(pid, signal.SIGKILL)
        print(name, "signalled")
    except OSError as error:
        print(name, type(error).__name__)
print("still here")
""",
    )
    assert result.exit_code == 0
    assert "server ProcessLookupError" in result.stdout
    assert result.stdout.endswith("still here\n")
