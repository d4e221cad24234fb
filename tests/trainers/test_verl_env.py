"""The verl adapter's tests in verl's own environment (`.ci/verl_env` builds it), since verl's
pins cannot share the dev environment: the suite runs them there, against this checkout."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERL_VENV = Path(
    os.environ.get("RL_GYM_VERL_VENV", Path.home() / ".cache" / "rl-gym" / "verl-0.9.1")
)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_verl_adapter_passes_in_verl_s_own_environment() -> None:
    if importlib.util.find_spec("verl") is not None:
        pytest.skip("verl is installed here: tests/trainers/test_verl.py runs directly")
    python = VERL_VENV / "bin" / "python"
    if not python.exists():
        message = f"no verl environment at {VERL_VENV}: run `bash .ci/verl_env`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    finished = subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            "tests/trainers/test_verl.py",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "VIRTUAL_ENV": str(VERL_VENV)},
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-2000:]
    assert " passed" in finished.stdout
    assert "skipped" not in finished.stdout
