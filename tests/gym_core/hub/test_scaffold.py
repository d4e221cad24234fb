"""`gym hub new`: the project it writes works as generated."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gym_core.catalog import load_catalog
from gym_core.cli import main
from gym_core.errors import ConfigError
from gym_core.hub.scaffold import scaffold
from gym_core.rollout_client import RolloutClient
from tests.conftest import scripted_engine
from tests.fixtures.env_projects import scripted_letters_rules
from tests.fixtures.serving import gym_serving


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    with scripted_engine(scripted_letters_rules()) as url:
        yield url


def test_new_writes_a_whole_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hub", "new", "word_count", "--dir", str(tmp_path)]) == 0
    project = tmp_path / "word_count"
    assert f"created {project}" in capsys.readouterr().out
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "rl_hub.yaml",
        "tests/test_word_count.py",
        "word_count_env/__init__.py",
        "word_count_env/data/cheats.jsonl",
        "word_count_env/data/examples.jsonl",
        "word_count_env/data/solutions.jsonl",
        "word_count_env/server.py",
    ]
    entry = load_catalog(project / "rl_hub.yaml").envs["word_count"]
    assert entry.server == "word_count_env.server:WordCountServer"
    examples = (project / "word_count_env" / "data" / "examples.jsonl").read_text().splitlines()
    assert [json.loads(row)["id"] for row in examples] == [f"word_count-{i}" for i in range(1, 6)]
    pyproject = (project / "pyproject.toml").read_text()
    assert 'word_count = "word_count_env"' in pyproject
    assert "{{" not in "".join(p.read_text() for p in project.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Word-Count", "cannot name an environment"),
        ("1st", "cannot name an environment"),
        ("taken", "already exists"),
    ],
)
def test_new_refuses_bad_names_and_existing_directories(
    tmp_path: Path, name: str, message: str
) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(ConfigError, match=message):
        scaffold(name, tmp_path)


def test_gym_serve_serves_the_new_project_from_its_directory(tmp_path: Path, engine: str) -> None:
    project = scaffold("served", tmp_path)
    rows = [
        json.loads(line)
        for line in (project / "served_env/data/examples.jsonl").read_text().splitlines()
    ]
    with (
        gym_serving(["served", "--hub", ".", "--policy-url", engine], cwd=project) as served,
        RolloutClient(served.endpoint) as client,
    ):
        results = client.rollouts([{**row, "env": "served"} for row in rows])
    assert [r.reward for r in results] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert results[0].messages[1].tool_calls[0].function.name == "count_letter"
    assert results[0].messages[2].content == "3"


def test_gym_rollout_serves_the_project_named_with_hub(
    tmp_path: Path, engine: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = scaffold("rolled", tmp_path)
    monkeypatch.chdir(project)
    out = tmp_path / "results.jsonl"
    assert main(["rollout", "rolled", "--out", str(out), "--policy-url", engine]) == 2
    assert "unknown environment 'rolled'" in capsys.readouterr().err, "the cwd is no hub"
    argv = ["rollout", "rolled", "--hub", ".", "--out", str(out), "--policy-url", engine]
    assert main(argv) == 0
    rewards = sorted(json.loads(line)["reward"] for line in out.read_text().splitlines())
    assert rewards == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_serving_in_a_directory_never_imports_its_modules(tmp_path: Path, engine: str) -> None:
    """A directory holding an `rl_hub.yaml` and a package named like one of RL Gym's: neither
    being there nor being named with `--hub` lets it replace RL Gym's own."""
    hostile = tmp_path / "hostile"
    (hostile / "environments").mkdir(parents=True)
    marker = tmp_path / "ran"
    (hostile / "environments" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    entry = {
        "version": "0.1.0",
        "description": "a lure",
        "domain": "test",
        "license": "MIT",
        "server": "lure_env:LureServer",
        "datasets": {"example": "lure.jsonl"},
    }
    (hostile / "rl_hub.yaml").write_text(yaml.safe_dump({"envs": {"lure": entry}}))
    for argv in (["math"], ["math", "--hub", "."]):
        with gym_serving([*argv, "--policy-url", engine], cwd=hostile) as served:
            rows = [
                {
                    "id": "q",
                    "env": "math",
                    "prompt": [{"role": "user", "content": "2+2?"}],
                    "answer": "4",
                }
            ]
            with RolloutClient(served.endpoint) as client:
                [result] = client.rollouts(rows)
        assert result.status == "completed", result.failure
    assert not marker.exists()


@pytest.mark.slow
def test_the_project_s_own_tests_pass(tmp_path: Path) -> None:
    project = scaffold("tested", tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout
