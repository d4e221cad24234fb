"""`gym serve --cluster local`: the one-node cluster it starts goes away with it, entirely.

A module of its own, so that the cluster it starts is never alive beside the one the other
cluster tests share.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import yaml

from gym_core.rollout_client import RolloutClient
from tests.conftest import ECHO_ENVS, scripted_engine
from tests.gym_core.launch.test_ray_cluster import GYM, ROOT, rows


@pytest.mark.cluster
@pytest.mark.slow
def test_stopping_leaves_no_ray_process_behind(tmp_path: Path) -> None:
    config = tmp_path / "gym.yaml"
    config.write_text(yaml.safe_dump({"envs": {"echo": ECHO_ENVS["echo"]}}))
    with scripted_engine([{"reply": "42"}]) as engine:
        argv = ["serve", "echo", "--cluster", "local", "--config", str(config)]
        argv += ["--policy-url", engine, "--port", "0"]
        process = subprocess.Popen(
            [sys.executable, "-c", GYM, *argv],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert process.stdout is not None
        try:
            banner = process.stdout.readline() + process.stdout.readline()
            found = re.search(r"rollout endpoint: (http://\S+)/v1/rollouts", banner)
            assert found, f"gym serve --cluster local did not start: {banner!r}"
            with RolloutClient(found.group(1)) as client:
                [result] = client.rollouts(rows("hello", 1, "42"))
            assert result.status == "completed"
            started = psutil.Process(process.pid).children(recursive=True)
            assert any(p.name() == "raylet" for p in started)
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=120)
            process.stdout.close()
    assert code == 0
    assert [p for p in started if alive(p)] == []


def alive(process: psutil.Process) -> bool:
    """Running, not merely exited and waiting for its parent to reap it."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
