"""`gym serve` restarts a service that dies: first the decisions (backoff, giving up), then the
real thing (a resources server killed with SIGKILL mid-batch; one that crash-loops)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gym_core.launch.local import LaunchError, LocalLauncher
from gym_core.launch.supervision import CrashLoop, Supervisor, describe_exit
from gym_core.protocol import RolloutResult
from gym_core.rollout_client import RolloutClient
from gym_core.settings import RestartPolicy
from tests.agent_server.test_episode import RULES as EPISODE_RULES
from tests.conftest import ECHO_ENVS, ROOT, make_config, scripted_engine
from tests.gym_core.test_cli import processes_marked

GYM = "from gym_core.cli import main; raise SystemExit(main())"
RULES: list[dict[str, Any]] = [
    {
        "role": "user",
        "match": "^wait",
        "tool_calls": [{"name": "wait", "arguments": {"seconds": 30}}],
    },
    *EPISODE_RULES,  # `remember this`: a tool call that stores a note, one that reads it
]


# The decisions ------------------------------------------------------------------------------


def test_the_backoff_doubles_with_fast_failures_and_is_bounded() -> None:
    supervisor = Supervisor(RestartPolicy(backoff_s=0.5, max_backoff_s=3, max_fast_failures=9))
    delays = [supervisor.died("env-math", -9, ran_s=1.0) for _ in range(5)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert supervisor.restarts("env-math") == 5
    assert supervisor.restarts("agent") == 0


def test_a_service_that_ran_a_while_starts_the_backoff_again() -> None:
    supervisor = Supervisor(RestartPolicy(backoff_s=0.5, fast_failure_s=30, max_fast_failures=3))
    supervisor.died("agent", 1, ran_s=1.0)
    supervisor.died("agent", 1, ran_s=1.0)
    assert supervisor.died("agent", 1, ran_s=3600.0) == 0.5  # not a crash loop: a rare crash
    assert supervisor.died("agent", 1, ran_s=1.0) == 0.5


def test_a_crash_loop_is_given_up_with_its_name_and_exit() -> None:
    supervisor = Supervisor(RestartPolicy(fast_failure_s=10, max_fast_failures=3))
    supervisor.died("env-code", 1, ran_s=0.1)
    supervisor.died("env-code", 1, ran_s=0.1)
    with pytest.raises(
        CrashLoop, match=r"'env-code' keeps dying: it exited with code 1 within 10s"
    ):
        supervisor.died("env-code", 1, ran_s=0.1)


def test_exits_are_described_by_code_or_signal() -> None:
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-9) == "was killed by SIGKILL"


# Under `gym serve` ---------------------------------------------------------------------------


@dataclass
class Served:
    endpoint: str
    env_url: str
    process: subprocess.Popen[str]
    log: Path
    mark: str


@contextlib.contextmanager
def gym_serve(tmp_path: Path, engine: str, **serve: Any) -> Iterator[Served]:
    """`gym serve echo` as a user runs it, the echo environment one that can be made to crash
    (it fails as it starts while `tmp_path/crash` exists)."""
    config = {
        "envs": {
            "echo": {
                **ECHO_ENVS["echo"],
                "server": "tests.fixtures.echo_env:CrashingEchoServer",
                "settings": {"crash_marker": str(tmp_path / "crash")},
            }
        },
        "resources": {"cpu_workers": 1},
        "serve": serve,
    }
    (tmp_path / "gym.yaml").write_text(yaml.safe_dump(config))
    log = tmp_path / "serve.log"
    mark = uuid.uuid4().hex
    argv = ["serve", "echo", "--config", str(tmp_path / "gym.yaml"), "--policy-url", engine]
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", GYM, *argv, "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "RL_GYM_TEST_MARK": mark},
        )
    assert process.stdout is not None
    try:
        banner = ""  # up to "Press Ctrl-C to stop."
        for line in process.stdout:
            banner += line
            if line.startswith("Press Ctrl-C"):
                break
        endpoint = re.search(r"rollout endpoint: (http://\S+)/v1/rollouts", banner)
        env_url = re.search(r"env-echo\s+(http://\S+)", banner)
        assert endpoint, f"gym serve did not start: {banner}{log.read_text()}"
        assert env_url, banner
        yield Served(endpoint.group(1), env_url.group(1), process, log, mark)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        process.stdout.close()
        nothing_left_behind(mark)


def nothing_left_behind(mark: str) -> None:
    deadline = time.monotonic() + 10
    while processes_marked(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_marked(mark) == []


def metric(url: str, name: str) -> int:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as answer:
        found = re.search(rf"rlgym_{name}\{{[^}}]*\}} (\d+)", answer.read().decode())
    assert found, name
    return int(found.group(1))


def wait_for(condition: Any, what: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def rows(prompt: str, count: int, expected: str) -> list[dict[str, Any]]:
    return [
        {"id": f"{prompt}-{i}", "env": "echo", "prompt": prompt, "expected": expected}
        for i in range(count)
    ]


def env_pid(endpoint: str) -> int:
    """The resources server's pid, as it reports it in a completed rollout."""
    with RolloutClient(endpoint) as client:
        [result] = client.rollouts(rows("remember this", 1, "recalled v"))
    assert result.status == "completed"
    return int(result.metrics["replica_pid"])


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    with scripted_engine(RULES) as url:
        yield url


def test_a_killed_resources_server_is_restarted_and_its_rollouts_come_back_failed(
    engine: str, tmp_path: Path
) -> None:
    with gym_serve(tmp_path, engine, restart={"backoff_s": 0.2}) as served:
        pid = env_pid(served.endpoint)
        assert metric(served.env_url, "restarts_total") == 0
        results: list[RolloutResult] = []

        def batch() -> None:
            with RolloutClient(served.endpoint) as client:
                results.extend(client.rollouts(rows("wait", 4, "42")))

        running = threading.Thread(target=batch)
        running.start()
        # all four in their 30 s tool call (the metrics request counts itself too)
        wait_for(lambda: metric(served.env_url, "in_flight") >= 5, "the tool calls")
        os.kill(pid, signal.SIGKILL)
        running.join(timeout=120)

        assert len(results) == 4  # none lost
        assert {r.status for r in results} == {"failed"}
        assert {r.failure.kind for r in results if r.failure} == {"replica_lost"}
        wait_for(lambda: metric(served.env_url, "restarts_total") == 1, "the restart")
        assert env_pid(served.endpoint) != pid  # the same port, a new process
        with RolloutClient(served.endpoint) as client:
            again = client.rollouts(rows("remember this", 3, "recalled v"))
        assert [r.reward for r in again] == [1.0] * 3
    assert served.process.returncode == 0
    assert "service 'env-echo' was killed by SIGKILL; restarting it in 0.2s (restart 1)" in (
        served.log.read_text()
    )


def test_a_crash_looping_service_is_given_up_and_everything_stops(
    engine: str, tmp_path: Path
) -> None:
    restart = {"backoff_s": 0.05, "max_fast_failures": 3}
    with gym_serve(tmp_path, engine, restart=restart) as served:
        pid = env_pid(served.endpoint)
        (tmp_path / "crash").touch()  # from now on the server fails as it starts
        os.kill(pid, signal.SIGKILL)
        assert served.process.wait(timeout=120) == 2
    log = served.log.read_text()
    assert "restarting it in 0.05s (restart 1)" in log
    assert "restarting it in 0.1s (restart 2)" in log
    assert "gym serve: error: service 'env-echo' keeps dying: it exited with code 1" in log


def watch_for_a_while(launcher: LocalLauncher) -> None:
    """What `gym serve` does between signals, for up to 30 s."""
    for _ in range(600):
        launcher.watch()
        time.sleep(0.05)


def test_with_restarts_off_a_dead_service_stops_the_stack(engine: str) -> None:
    launcher = LocalLauncher(make_config([engine], serve={"restart": {"enabled": False}}), ["echo"])
    with launcher:
        launcher.start()
        asyncio.run(launcher.wait_ready())
        [env] = [p for p in launcher.processes if p.name == "env-echo"]
        os.kill(env.pid, signal.SIGKILL)
        with pytest.raises(LaunchError, match=r"'env-echo' was killed by SIGKILL; stopping the"):
            watch_for_a_while(launcher)


def test_a_restarted_policy_server_takes_over_the_version_and_the_pause(engine: str) -> None:
    launcher = LocalLauncher(
        make_config([engine], serve={"restart": {"backoff_s": 0.05}}), ["echo"]
    )
    with launcher:
        running = launcher.start()
        asyncio.run(launcher.wait_ready())
        [policy] = [p for p in launcher.processes if p.name == "policy"]
        with RolloutClient(running.endpoint) as client:
            client.set_policy_version(7)
            client.pause_policy(deadline_s=600)
            os.kill(policy.pid, signal.SIGKILL)

            def restarted() -> bool:
                launcher.watch()  # what `gym serve` does between signals
                return any(p.name == "policy" and p.pid != policy.pid for p in launcher.processes)

            wait_for(restarted, "the policy server's restart")
            assert metric(running.urls["policy"], "restarts_total") == 1
            state = client.policy()
            assert (state.version, state.paused) == (7, True)
            assert state.pause_lifts_in_s is not None
            assert 0 < state.pause_lifts_in_s <= 600
            client.resume_policy()
            [result] = client.rollouts(rows("remember this", 1, "recalled v"))
        assert result.status == "completed"
        assert {turn.policy_version for turn in result.turns} == {7}
        state_dir = launcher._specs["policy"].settings["state_file"].parent
    assert not state_dir.exists()  # nothing left behind
