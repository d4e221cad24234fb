"""`gym rollout` over a mixed dataset: rows of several environments in one file, one run, the
metrics broken down by environment."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gym_core.cli import main
from gym_core.collect import read_results
from tests.conftest import scripted_engine

COUNTER_ROWS = (
    Path(__file__).parents[2]
    / "environments"
    / "peer_rows"
    / "tool_calls"
    / "example_session_state_mgmt.jsonl"
)
RULES = [
    {"role": "user", "match": "What is 2\\+2", "reply": "It is \\boxed{4}."},
    {"role": "user", "match": "What is 3\\+3", "reply": "It is \\boxed{7}."},
    {
        "role": "user",
        "match": "^add 1 then add 2",
        "tool_calls": [
            {"name": "increment_counter", "arguments": {"count": 1}},
            {"name": "increment_counter", "arguments": {"count": 2}},
        ],
    },
    {"role": "user", "reply": "I cannot count."},
    {"role": "tool", "reply": "Done."},
]


def test_a_mixed_file_runs_in_one_rollout_and_reports_each_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Math rows in RL Gym's format and NeMo Gym counter rows (no `env`: `--env` names it)."""
    math_rows = [
        {"id": "four", "env": "math", "prompt": "What is 2+2?", "answer": "4"},
        {"id": "six", "env": "math", "prompt": "What is 3+3?", "answer": "6"},
    ]
    counter_rows = COUNTER_ROWS.read_text().splitlines()[:2]  # the first is counted right
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(json.dumps(row) + "\n" for row in math_rows) + "\n".join(counter_rows))
    out = tmp_path / "out.jsonl"
    with scripted_engine(RULES) as engine:
        argv = ["rollout", str(mixed), "--env", "tool_calls", "--out", str(out)]
        assert main([*argv, "--policy-url", engine]) == 0
    results = read_results(out)
    assert sorted((r.env, r.reward) for r in results) == [
        ("math", 0.0),
        ("math", 1.0),
        ("tool_calls", 0.0),
        ("tool_calls", 1.0),
    ]
    report = capsys.readouterr().out
    assert re.search(r"mean reward \(scored rollouts\)\s*│\s*0\.5000", report)
    assert "by environment" in report
    rows = {
        cells[0]: cells[1:]
        for line in report.splitlines()
        if len(cells := [cell.strip() for cell in line.split("│")[1:-1]]) == 6
    }
    assert rows["math"] == ["2", "2", "0.5000", "0.5000", "0"]
    assert rows["tool_calls"] == ["2", "2", "0.5000", "0.5000", "0"]


def test_one_environment_gets_no_breakdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"id": "four", "prompt": "What is 2+2?", "answer": "4"}) + "\n")
    with scripted_engine(RULES) as engine:
        argv = ["rollout", str(tasks), "--env", "math", "--out", str(tmp_path / "out.jsonl")]
        assert main([*argv, "--policy-url", engine]) == 0
    assert "by environment" not in capsys.readouterr().out
