"""`gym serve all`: every built-in environment composed behind one rollout endpoint."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import orjson

from gym_core.catalog import default_catalog_path, load_catalog
from gym_core.config import select_envs
from gym_core.rollout_client import RolloutClient
from tests.conftest import make_config, scripted_engine
from tests.fixtures.serving import gym_serving

BUILT_IN = list(load_catalog(default_catalog_path()).envs)
COUNTER_ROW = (
    Path(__file__).parents[2] / "environments/peer_rows/tool_calls/example_session_state_mgmt.jsonl"
)


def test_all_names_every_built_in_environment_once() -> None:
    config = make_config([])  # the catalog plus the echo test fixtures
    assert select_envs(config, "all") == BUILT_IN
    assert select_envs(config, "echo,all,math") == ["echo", *BUILT_IN]
    assert "echo" not in select_envs(config, "all")


def test_serve_all_starts_every_built_in_environment(tmp_path: Path) -> None:
    rules = [
        {"role": "user", "match": "What is 2\\+2", "reply": "\\boxed{4}"},
        {
            "role": "user",
            "match": "^add 1 then add 2",
            "tool_calls": [{"name": "increment_counter", "arguments": {"count": 3}}],
        },
        {"role": "tool", "reply": "Done."},
    ]
    counter = orjson.loads(COUNTER_ROW.read_bytes().splitlines()[0])
    workdir = tmp_path / "work"
    workdir.mkdir()
    with (
        scripted_engine(rules) as engine,
        gym_serving(["all", "--policy-url", engine], cwd=workdir) as served,
    ):
        with urllib.request.urlopen(f"{served.endpoint}/v1/envs", timeout=10) as answer:
            envs = [env["name"] for env in orjson.loads(answer.read())]
        with RolloutClient(served.endpoint) as client:
            results = client.rollouts(
                [
                    {"id": "sum", "env": "math", "prompt": "What is 2+2?", "answer": "4"},
                    {**counter, "env": "tool_calls"},
                ]
            )
    assert envs == BUILT_IN
    assert [(r.env, r.reward) for r in results] == [("math", 1.0), ("tool_calls", 1.0)]
