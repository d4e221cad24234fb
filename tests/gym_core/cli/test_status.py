"""`gym status`: a running stack's table, and one clear line when the endpoint is wrong."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rich.console import Console

from gym_core.cli import main
from gym_core.cli.status import render
from gym_core.launch.local import Running
from gym_core.launch.plan import env_service_name
from gym_core.rollout_client import RolloutClient
from gym_core.stack_status import STAGES, EnvStatus, StackStatus
from tests.conftest import gym_stack, scripted_engine


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    with (
        scripted_engine([{"match": "wrong", "reply": "no"}, {"reply": "ok 42"}]) as engine,
        gym_stack(["echo"], [engine]) as running,
    ):
        yield running


def test_once_prints_each_env_with_its_counts_and_each_service(
    running: Running, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = [
        {"id": prompt, "env": "echo", "prompt": prompt, "expected": "42"}
        for prompt in ("right", "wrong")
    ]
    with RolloutClient(running.endpoint) as client:
        client.rollouts(tasks, samples_per_task=3)
    monkeypatch.setenv("COLUMNS", "240")  # one line per row, whatever the terminal
    assert main(["status", running.endpoint, "--once"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] == ["echo"]]
    # env, running, queued, completed, truncated, failed, per s (a rate needs two readings), reward
    assert rows[0] == ["echo", "0", "0", "6", "0", "0", "-", "0.500"]
    policy, tool, verify, env_turn = rows[1][1:]  # mean ms per call of each stage
    assert float(policy) > 0
    assert float(verify) > 0
    assert (tool, env_turn) == ("-", "-")  # none was made
    for url in running.urls.values():  # agent, policy and resources servers
        assert url in out


def test_an_unreachable_endpoint_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "http://127.0.0.1:9", "--once"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("gym status: error: ")
    assert "127.0.0.1:9" in err


def test_a_service_that_is_no_agent_server_is_named_so(
    running: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    resources = running.urls[env_service_name("echo")]
    assert main(["status", resources, "--once"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "not an RL Gym agent server" in err


def test_a_bad_interval_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "http://127.0.0.1:9", "--interval", "0"]) == 2
    assert "--interval must be above 0" in capsys.readouterr().err


def test_a_refresh_shows_the_rollouts_finished_per_second_since_the_last() -> None:
    def reading(completed: int) -> StackStatus:
        env = EnvStatus("echo", 1, 0, {"completed": completed}, {}, 1.0, dict.fromkeys(STAGES))
        return StackStatus(envs=[env], services=[])

    console = Console(record=True, width=120)
    console.print(render(reading(30), reading(10), elapsed_s=4.0))
    row = next(line.split() for line in console.export_text().splitlines() if "echo" in line)
    assert row == ["echo", "1", "0", "30", "0", "0", "5.0", "1.000"]
