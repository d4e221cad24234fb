"""Per-run cgroups: each run's processes together are bounded (memory, processes, CPU), an
out-of-memory kill ends the run with that verdict while the service lives on, and nothing is
left behind. Skipped only where this machine offers no cgroup (the fallback is tested too)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gym_core.http_client import HttpClient
from gym_core.settings import ResourcesServerSettings
from resources_server.sandbox import Limits
from resources_server.sandbox.bubblewrap import BubblewrapSandbox
from resources_server.sandbox.cgroup_detect import _remove_stale as remove_stale
from resources_server.sandbox.cgroup_detect import detect_cgroups
from resources_server.sandbox.cgroups import CgroupTree
from resources_server.sandbox.unsandboxed import UnsandboxedRunner
from tests.conftest import resources_server
from tests.resources_server.sandbox.helpers import (
    FORK_BOMB_COUNT,
    leftover_cgroups,
    leftover_processes,
    run_beside_a_good_one,
)

REPO = Path(__file__).resolve().parents[3]
LIMITS = Limits(cpu_time_s=5, wall_time_s=30, memory_mb=512, processes=64, cpus=0.5)
MEMORY_HUNGRY_CHILDREN = """
import os, time
children = []
for _ in range(20):
    pid = os.fork()
    if pid == 0:
        block = bytearray(200 << 20)  # 200 MB, every page touched
        time.sleep(10)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
print("all children finished")
"""


def cgroup_tree() -> CgroupTree:
    tree = detect_cgroups()
    if tree is None:
        pytest.skip("this machine offers no cgroup to the sandbox (rlimits only)")
    return tree


@pytest.fixture
async def sandbox() -> AsyncIterator[BubblewrapSandbox]:
    cgroup_tree()
    sandbox = BubblewrapSandbox(LIMITS, max_concurrency=2)
    yield sandbox
    assert await leftover_processes(sandbox) == []
    assert leftover_cgroups() == []


@pytest.fixture
async def unsandboxed() -> AsyncIterator[UnsandboxedRunner]:
    cgroup_tree()
    yield UnsandboxedRunner(LIMITS, max_concurrency=2)
    assert leftover_cgroups() == []


async def test_many_memory_hungry_children_end_the_run_as_out_of_memory(
    sandbox: BubblewrapSandbox,
) -> None:
    result = await run_beside_a_good_one(sandbox, MEMORY_HUNGRY_CHILDREN)
    assert result.out_of_memory
    assert not result.timed_out
    assert result.exit_code == 137  # the whole run killed, its first process included
    assert "all children finished" not in result.stdout


@pytest.fixture(scope="module")
def code_server_url() -> Iterator[str]:
    """The code environment's resources server (with `run_python`), under `LIMITS`."""
    cgroup_tree()
    settings = ResourcesServerSettings(
        name="code",
        server="environments.code.server:CodeToolsServer",
        cpu_workers=1,
        env_settings={"sandbox": {"limits": LIMITS.model_dump()}},
    )
    with resources_server(settings) as url:
        yield url


async def test_the_resources_server_survives_a_run_out_of_memory(code_server_url: str) -> None:
    url = code_server_url
    task = {"id": "t", "env": "code", "prompt": "Print 1.", "tests": [{"stdout": "1\n"}]}
    async with HttpClient(max_retries=0) as http:
        session = (await http.post(f"{url}/sessions", {"task": task}))["session_id"]
        tool = f"{url}/sessions/{session}/tools/run_python"
        hungry = await http.post(tool, {"code": MEMORY_HUNGRY_CHILDREN})
        assert (await http.get(f"{url}/healthz"))["status"] == "ok"
        after = await http.post(tool, {"code": "print(6 * 7)"})
    assert hungry["output"] == "stopped: it ran out of memory"
    assert after == {"output": "exit code 0\n--- stdout ---\n42\n", "is_error": False}


async def test_a_fork_bomb_is_bounded_by_the_runs_pids_even_as_root(
    unsandboxed: UnsandboxedRunner,
) -> None:
    # The unsandboxed runner keeps the server's user: as root, RLIMIT_NPROC binds nothing,
    # so only the run's cgroup stops it.
    result = await unsandboxed.run(program=FORK_BOMB_COUNT)
    assert result.stdout == f"{LIMITS.processes - 1} BlockingIOError\n"
    assert result.exit_code == 0


async def test_each_run_has_its_own_cgroup_with_the_limits(unsandboxed: UnsandboxedRunner) -> None:
    tree = cgroup_tree()
    show = "import sys\nprint(open('/proc/self/cgroup').read())"
    first, second = [await unsandboxed.run(program=show) for _ in range(2)]
    assert first.stdout != second.stdout
    paths = _cgroup_paths(first.stdout)
    key = "" if tree.version == 2 else "memory"
    run = Path(paths[key]).name
    assert run.startswith(f"rl-gym-run-{os.getpid()}-")
    for base in tree.bases.values():
        assert not (base / run).exists()  # removed after the run
    limits = await unsandboxed.run(program=_read_own_limits(tree))
    memory, pids, cpu = limits.stdout.split()
    assert int(memory) == LIMITS.memory_mb << 20
    assert int(pids) == LIMITS.processes
    if cpu != "-":
        assert cpu == "50000"  # 0.5 of each 100 ms period


def test_cgroups_a_dead_server_left_are_removed() -> None:
    tree = cgroup_tree()
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = [base / f"rl-gym-run-{gone.pid}-0" for base in tree.bases.values()]
    for directory in dict.fromkeys(stale):
        directory.mkdir()
    remove_stale(tree)
    assert not any(directory.exists() for directory in stale)


def test_without_cgroups_the_sandbox_says_so_once() -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding the cgroup mounts needs root and unshare")
    detect_twice = (
        "import logging\n"
        "from resources_server.sandbox.cgroup_detect import detect_cgroups\n"
        "logging.basicConfig()\n"
        "print(detect_cgroups(), detect_cgroups())\n"
    )
    hide_cgroups = 'mount -t tmpfs none /sys/fs/cgroup && exec "$@"'
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", hide_cgroups, "sh", sys.executable, "-c", detect_twice],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == "None None\n"
    assert done.stderr.count("no cgroup to give each run") == 1
    assert "rlimits only" in done.stderr


def _cgroup_paths(proc_cgroup: str) -> dict[str, str]:
    paths = {}
    for line in proc_cgroup.split():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _read_own_limits(tree: CgroupTree) -> str:
    """A program printing its cgroup's memory limit, pids limit and CPU quota ('-': none)."""
    if tree.version == 2:
        files = ("memory.max", "pids.max", "cpu.max")
        places = {name: tree.bases["unified"] for name in files}
    else:
        files = ("memory.limit_in_bytes", "pids.max", "cpu.cfs_quota_us")
        places = dict(zip(files, [tree.bases["memory"], tree.bases["pids"]], strict=False))
        if "cpu" in tree.bases:
            places["cpu.cfs_quota_us"] = tree.bases["cpu"]
    return f"""
import os
own = {{}}
for line in open('/proc/self/cgroup').read().split():
    _, controllers, path = line.split(':', 2)
    for controller in (controllers.split(',') if controllers else ['']):
        own[controller] = path
values = []
for name, base in {[(name, str(base)) for name, base in places.items()]!r}:
    controller = '' if {tree.version} == 2 else name.split('.')[0]
    run = os.path.basename(own[controller])
    values.append(open(os.path.join(base, run, name)).read().split()[0])
values += ['-'] * (3 - len(values))
print(*values)
"""
