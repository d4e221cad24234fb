"""`gym serve --cluster local`: the one-node cluster it starts goes away with it, entirely.

A module of its own, so that the cluster it starts is never alive beside the one the other
cluster tests share.
"""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
import yaml

from gym_core.rollout_client import RolloutClient
from tests.conftest import ECHO_ENVS, scripted_engine
from tests.fixtures.serving import gym_serving_checkout
from tests.gym_core.launch.test_ray_cluster import rows


@pytest.mark.cluster
@pytest.mark.slow
def test_stopping_leaves_no_ray_process_behind(tmp_path: Path) -> None:
    config = tmp_path / "gym.yaml"
    config.write_text(yaml.safe_dump({"envs": {"echo": ECHO_ENVS["echo"]}}))
    argv = ["echo", "--cluster", "local", "--config", str(config)]
    with scripted_engine([{"reply": "42"}]) as engine:
        argv += ["--policy-url", engine]
        with gym_serving_checkout(argv, stop_timeout_s=120) as (endpoint, process):
            with RolloutClient(endpoint) as client:
                [result] = client.rollouts(rows("hello", 1, "42"))
            assert result.status == "completed"
            started = psutil.Process(process.pid).children(recursive=True)
            assert any(p.name() == "raylet" for p in started)
    assert [p for p in started if alive(p)] == []


def alive(process: psutil.Process) -> bool:
    """Running, not merely exited and waiting for its parent to reap it."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
