"""`gym serve` and `gym rollout` as a user runs them."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gym_core.cli import main
from gym_core.collect import read_results
from gym_core.tasks_file import load_tasks
from tests.conftest import gym_stack, scripted_engine
from tests.gym_core.test_protocol import peer_rows_file

RULES = [
    {"match": "What is 2\\+2", "reply": "It is \\boxed{4}."},
    {"match": "1000 digit numbers", "reply": "\\boxed{32}"},
    {"reply": "I think \\boxed{0}"},
]


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    with scripted_engine(RULES) as url:
        yield url


def write_tasks(path: Path, count: int = 3) -> Path:
    rows = [{"id": "sum", "env": "math", "prompt": "What is 2+2?", "answer": "4"}]
    rows += [
        {"id": f"q{i}", "env": "math", "prompt": f"q{i}", "answer": "1"} for i in range(count - 1)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_rollout_collects_reports_and_resumes(
    engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl")
    out = tmp_path / "out.jsonl"
    args = [str(tasks), "--out", str(out), "--policy-url", engine, "--samples", "2"]
    assert main(["rollout", *args, "--limit", "2"]) == 0
    first = read_results(out)
    assert sorted((r.task_id, r.sample_index) for r in first) == [
        ("q0", 0),
        ("q0", 1),
        ("sum", 0),
        ("sum", 1),
    ]
    report = capsys.readouterr().out
    assert re.search(r"mean reward \(scored rollouts\)\s*│\s*0\.5000", report)
    assert "pass@2" in report

    assert main(["rollout", *args]) == 2
    assert "already holds results: pass --resume" in capsys.readouterr().err

    assert main(["rollout", *args, "--resume"]) == 0
    results = read_results(out)
    assert len(results) == 6
    assert results[:4] == first
    groups = {r.task_id: {x.group_id for x in results if x.task_id == r.task_id} for r in results}
    assert all(len(ids) == 1 for ids in groups.values())
    assert "new rollouts this run" in capsys.readouterr().out


def test_rollout_resume_completes_a_group_cut_short(engine: str, tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", count=1)
    out = tmp_path / "out.jsonl"
    assert main(["rollout", str(tasks), "--out", str(out), "--policy-url", engine]) == 0
    with out.open("a") as sink:
        sink.write('{"task_id": "sum", "truncated li')  # a crash mid-write
    args = [str(tasks), "--out", str(out), "--policy-url", engine, "--samples", "3", "--resume"]
    assert main(["rollout", *args]) == 0
    results = read_results(out)
    assert sorted(r.sample_index for r in results) == [0, 1, 2]
    assert len({r.group_id for r in results}) == 1


def test_rollout_resume_retries_failed_samples_in_place(engine: str, tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl")
    out = tmp_path / "out.jsonl"
    args = [str(tasks), "--out", str(out), "--samples", "2"]
    with scripted_engine([{"match": "^q0", "status": 500}, *RULES]) as flaky:
        assert main(["rollout", *args, "--policy-url", flaky]) == 0
    first = read_results(out)
    failed = sorted((r.task_id, r.sample_index) for r in first if r.status == "failed")
    assert failed == [("q0", 0), ("q0", 1)]  # results are written in completion order
    assert main(["rollout", *args, "--policy-url", engine, "--retry-failed"]) == 2

    assert main(["rollout", *args, "--policy-url", engine, "--resume", "--retry-failed"]) == 0
    again = read_results(out)
    assert [(r.task_id, r.sample_index) for r in again] == [
        (r.task_id, r.sample_index) for r in first
    ]
    assert len(out.read_text().splitlines()) == len(first)  # replaced, not appended
    assert all(r.status == "completed" for r in again)
    assert [r.group_id for r in again] == [r.group_id for r in first]
    unchanged = [r for r in first if r.status != "failed"]
    assert [r for r in again if r.task_id != "q0"] == unchanged


def test_a_retry_cut_short_never_counts_a_sample_twice(engine: str, tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "tasks.jsonl", count=1)
    out = tmp_path / "out.jsonl"
    assert main(["rollout", str(tasks), "--out", str(out), "--policy-url", engine]) == 0
    [done] = read_results(out)
    with out.open("a") as sink:  # a crash after appending a retried row, before the rewrite
        sink.write(done.model_copy(update={"reward": 0.5}).model_dump_json() + "\n")
    [latest] = read_results(out)
    assert latest.reward == 0.5


def test_the_peer_math_rows_run_unchanged(engine: str, tmp_path: Path) -> None:
    rows = peer_rows_file("math_with_judge")
    out = tmp_path / "out.jsonl"
    assert (
        main(["rollout", str(rows), "--env", "math", "--out", str(out), "--policy-url", engine])
        == 0
    )
    results = read_results(out)
    assert len(results) == 5
    assert all(r.status == "completed" for r in results)
    assert sum(r.reward for r in results) == 1.0  # the scripted policy knows one answer


def test_rollout_uses_servers_already_running(engine: str, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with gym_stack(["math"], [engine]) as running:
        argv = ["rollout", "math", "--endpoint", running.endpoint, "--limit", "3"]
        assert main([*argv, "--samples", "2", "--out", str(out)]) == 0
    results = read_results(out)
    assert len(results) == 6
    assert all(r.status == "completed" for r in results)
    assert len({r.group_id for r in results}) == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rollout", "maht", "--out", "x.jsonl"], "Did you mean 'math'?"),
        (["serve", "maht", "--policy-url", "http://127.0.0.1:1"], "Did you mean 'math'?"),
        (
            ["serve", "math", "--policy-url", "http://127.0.0.1:1/v1/chat/completions"],
            "policy.engine_urls: expected the engine's base URL (http://host:8000 or",
        ),
        (["serve", "math", "--host", "0.0.0.0"], "set serve.token"),
        (["serve", "math", "--replicas", "math=2"], "--replicas: replicas run on a cluster"),
        (
            ["serve", "math,code", "--cluster", "local", "--replicas", "mtah=2"],
            "--replicas mtah=2: unknown service 'mtah'. Did you mean 'math'?",
        ),
        (
            ["serve", "math", "--cluster", "local", "--replicas", "math=two"],
            "--replicas math=two: N must be a whole number of at least 1",
        ),
        (["serve", "math", "--cluster", "local", "--replicas", "math"], "expected NAME=N"),
        (
            ["serve", "math", "--cluster", "local", "--replicas", "policy=2"],
            "the policy server runs one replica",
        ),
        (
            [
                "serve",
                "math",
                "--cluster",
                "local",
                "--host",
                "10.1.2.3",
                "--token",
                "t0k3n-for-tests",
            ],
            "serve.host: '10.1.2.3' cannot be used with --cluster",
        ),
        (["rollout", "math", "--out", "x.jsonl", "--samples", "0"], "--samples must be at least 1"),
        (["data", "generate", "calnedar", "--out", "x.jsonl"], "Did you mean 'calendar'?"),
        (["data", "generate", "math", "--out", "x.jsonl"], "'math' has no task generator"),
        (
            ["data", "generate", "calendar", "--difficulty", "hrad", "--out", "x.jsonl"],
            "--difficulty must be one of easy, medium, hard, got 'hrad'. Did you mean 'hard'?",
        ),
        (
            ["data", "generate", "calendar", "--n", "0", "--out", "x.jsonl"],
            "--n must be at least 1",
        ),
    ],
)
def test_mistakes_are_one_clear_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def processes_marked(mark: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"RL_GYM_TEST_MARK={mark}".encode() in environ:
            found.append(int(entry.name))
    return found


def test_serve_starts_everything_and_sigterm_leaves_nothing_behind(engine: str) -> None:
    mark = uuid.uuid4().hex
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from gym_core.cli import main; raise SystemExit(main())",
            "serve",
            "math",
            "--policy-url",
            engine,
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "RL_GYM_TEST_MARK": mark},
    )
    try:
        banner = process.stdout.readline() + process.stdout.readline()
        assert "RL Gym is serving math" in banner
        endpoint = re.search(r"rollout endpoint: (http://\S+)/v1/rollouts", banner).group(1)
        from gym_core.rollout_client import RolloutClient

        with RolloutClient(endpoint) as client:
            [result] = client.rollouts(
                [{"id": "s", "env": "math", "prompt": "What is 2+2?", "answer": "4"}]
            )
        assert result.reward == 1.0
        assert len(processes_marked(mark)) >= 4  # launcher, policy, math (+ its CPU workers), agent
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        process.stdout.close()
    deadline = time.monotonic() + 10
    while processes_marked(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_marked(mark) == []


def test_data_generate_writes_the_same_tasks_for_the_same_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def generate(seed: int, name: str) -> Path:
        out = tmp_path / name
        argv = ["data", "generate", "calendar", "--n", "4", "--seed", str(seed), "--out", str(out)]
        assert main([*argv, "--difficulty", "hard"]) == 0
        return out

    first, again, other = generate(1, "a.jsonl"), generate(1, "b.jsonl"), generate(2, "c.jsonl")
    assert first.read_bytes() == again.read_bytes() != other.read_bytes()
    tasks = load_tasks(first)
    assert [task.env for task in tasks] == ["calendar"] * 4
    assert all(task.env_fields()["difficulty"] == "hard" for task in tasks)
    assert "wrote 4 calendar tasks (difficulty hard, seed 1)" in capsys.readouterr().out
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl", "c.jsonl"]


def test_the_token_comes_from_a_file_kept_out_of_ps(tmp_path: Path) -> None:
    from gym_core.cli.options import add_service_arguments, load_cli_config

    parser = argparse.ArgumentParser()
    add_service_arguments(parser)
    secret = tmp_path / "token"
    secret.write_text("a-long-secret-token\n")
    config = load_cli_config(parser.parse_args(["--token-file", str(secret)]))
    assert config.serve.token == "a-long-secret-token"
    assert main(["serve", "math", "--token-file", str(tmp_path / "missing")]) == 2


def test_cluster_without_ray_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ray is the `cluster` extra, not installed by the main command: --cluster says so."""
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as when not installed
    assert main(["serve", "math", "--cluster", "local"]) == 2
    err = capsys.readouterr().err
    assert "--cluster needs Ray" in err
    assert "rl-gym[cluster]" in err
    assert "Traceback" not in err
