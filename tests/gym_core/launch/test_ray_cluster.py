"""`gym serve --cluster`: the plan it deploys, then the real thing on a local Ray cluster that
the tests start (two replicas of the echo environment, a batch spread over them, a replica
killed mid-batch)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gym_core.catalog import default_catalog_path
from gym_core.config import GymConfig, load_config
from gym_core.errors import ConfigError, ServiceError
from gym_core.launch.plan import AGENT, POLICY
from gym_core.launch.ray_cluster import (
    NAMESPACE,
    cluster_specs,
    deployment_options,
    handle_url,
    replica_settings,
    route_prefix,
)
from gym_core.protocol import RolloutResult
from gym_core.rollout_client import RolloutClient
from gym_core.settings import ReplicaSettings
from tests.agent_server.test_episode import RULES as EPISODE_RULES
from tests.conftest import ECHO_ENVS, make_config, scripted_engine
from tests.fixtures.serving import ROOT, gym_serving_checkout

URLS = {"policy": "http://p/policy", "env-echo": "http://p/env/echo", "agent": "http://p"}
"""Where the launcher would say each service answers."""


def test_services_answer_under_their_prefixes() -> None:
    assert route_prefix(AGENT) == "/"
    assert route_prefix(POLICY) == "/policy"
    assert route_prefix("env-math") == "/env/math"


def test_services_reach_each_other_through_handles_to_their_deployments() -> None:
    """A `serve://` URL names the application, whose one deployment has the same name."""
    assert handle_url("env-math") == "serve://gym-env-math"
    assert deployment_options("env-math", ReplicaSettings())["name"] == "gym-env-math"


def test_replicas_are_fixed_or_autoscaled_within_bounds() -> None:
    fixed = deployment_options("env-code", ReplicaSettings(replicas=8, num_cpus=2))
    assert fixed["num_replicas"] == 8
    assert fixed["ray_actor_options"]["num_cpus"] == 2
    assert "autoscaling_config" not in fixed
    scaled = deployment_options(
        "env-code", ReplicaSettings(replicas=2, min_replicas=1, max_replicas=6)
    )
    assert "num_replicas" not in scaled
    assert scaled["autoscaling_config"]["min_replicas"] == 1
    assert scaled["autoscaling_config"]["initial_replicas"] == 2
    assert scaled["autoscaling_config"]["max_replicas"] == 6


def test_autoscaling_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="min_replicas <= replicas <= max_replicas"):
        ReplicaSettings(replicas=5, max_replicas=4)
    with pytest.raises(ValueError, match="min_replicas needs max_replicas"):
        ReplicaSettings(min_replicas=1)
    with pytest.raises(ValueError, match="cannot exceed max_ongoing_requests"):
        ReplicaSettings(max_ongoing_requests=8)


def cluster_config(**echo: Any) -> GymConfig:
    return make_config(["http://127.0.0.1:1"], envs={"echo": {"cluster": echo}})


def test_resources_replicas_share_sessions_and_get_a_cpu_worker_per_cpu() -> None:
    config = cluster_config(replicas=3, num_cpus=2)
    specs = {
        spec.name: spec
        for spec in cluster_specs(config, ["echo"], URLS, replica_settings(config, ["echo"]))
    }
    echo = specs["env-echo"].settings
    assert echo["cpu_workers"] == 2
    assert len(echo["session_shards"]["names"]) == 1  # a shard serves up to 4 replicas
    assert specs["agent"].settings["envs"]["echo"]["url"] == "http://p/env/echo"
    assert specs["agent"].settings["policy_url"] == "http://p/policy"


@pytest.mark.parametrize(("replicas", "shards"), [(1, 1), (4, 1), (5, 2), (40, 8)])
def test_a_session_shard_serves_a_few_replicas(replicas: int, shards: int) -> None:
    config = cluster_config(replicas=replicas)
    specs = cluster_specs(config, ["echo"], URLS, replica_settings(config, ["echo"]))
    echo = next(spec for spec in specs if spec.name == "env-echo")
    assert len(echo.settings["session_shards"]["names"]) == shards


def test_the_policy_server_runs_one_replica() -> None:
    config = cluster_config(replicas=4)
    assert replica_settings(config, ["echo"])[POLICY].replicas == 1


def test_serving_locally_never_imports_ray() -> None:
    code = (
        "import sys\n"
        "from gym_core.cli import serve\n"
        "import gym_core.launch.local, gym_core.launch.ray_cluster\n"
        "import agent_server.app, resources_server.app, policy_clients.server\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_readmes_cluster_settings_are_valid(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Replicas, CPUs and autoscaling")[1]
    settings = tmp_path / "cluster.yaml"
    settings.write_text(section.split("```yaml\n")[1].split("```")[0])
    config = load_config(default_catalog_path(), settings)
    assert config.envs["math"].cluster.max_replicas == 16
    assert config.cluster.agent.replicas == 4


def test_a_wrong_cluster_setting_names_its_key(tmp_path: Path) -> None:
    settings = tmp_path / "gym.yaml"
    settings.write_text("envs:\n  math:\n    cluster: {replicas: 0}\n")
    with pytest.raises(ConfigError, match=r"envs\.math\.cluster\.replicas"):
        load_config(default_catalog_path(), settings)


# On a local Ray cluster --------------------------------------------------------------------

RULES: list[dict[str, Any]] = [
    {
        "role": "user",
        "match": "^wait",
        "tool_calls": [{"name": "wait", "arguments": {"seconds": 4}}],
    },
    {"role": "tool", "match": "^waited", "reply": "waited for 42"},
    {"role": "user", "match": "^stall", "hang": True},
    *EPISODE_RULES,  # `remember this`: a tool call that stores a note, one that reads it
]
CONFIG = {
    "envs": {
        "echo": {
            **ECHO_ENVS["echo"],
            "server": "tests.fixtures.echo_env:ReplicaEchoServer",
            "cluster": {"num_cpus": 0.5},
        }
    },
    "cluster": {"agent": {"num_cpus": 0.25}, "policy_num_cpus": 0.25},
    "agent_server": {"policy_timeout_s": 3},
    "resources": {"cpu_workers": 1},
}


@pytest.fixture(scope="module")
def endpoint(ray_cluster: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`gym serve echo --cluster ADDRESS --replicas echo=2`, as a user runs it."""
    config = tmp_path_factory.mktemp("cluster") / "gym.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    argv = ["echo", "--cluster", ray_cluster, "--replicas", "echo=2", "--config", str(config)]
    with (
        scripted_engine(RULES) as engine,
        gym_serving_checkout([*argv, "--policy-url", engine], stop_timeout_s=60) as (endpoint, _),
    ):
        yield endpoint


def echo_replicas() -> list[str]:
    import ray

    names = ray.util.list_named_actors(all_namespaces=True)
    return sorted(n["name"] for n in names if n["name"].startswith("SERVE_REPLICA::gym-env-echo"))


def echo_addresses() -> set[str]:
    """Where the echo replicas answer plain HTTP, as the registry tells the other services."""
    import ray

    from gym_core.launch.replica_addresses import REGISTRY_NAME  # imports ray

    registry = ray.get_actor(REGISTRY_NAME, namespace=NAMESPACE)
    node = ray.util.get_node_ip_address()
    return set(ray.get(registry.addresses.remote("gym-env-echo", node)))


def rows(prompt: str, count: int, expected: str) -> list[dict[str, Any]]:
    return [
        {"id": f"{prompt}-{i}", "env": "echo", "prompt": prompt, "expected": expected}
        for i in range(count)
    ]


@pytest.mark.cluster
@pytest.mark.slow
def test_a_batch_spreads_over_two_replicas_that_share_sessions(endpoint: str) -> None:
    assert len(echo_replicas()) == 2
    with RolloutClient(endpoint) as client:
        results = client.rollouts(rows("remember this", 12, "recalled v"))
    assert [r.status for r in results] == ["completed"] * 12
    assert all(r.reward == 1.0 for r in results)
    assert all(r.metrics["notes"] == 1 for r in results)  # what one call stored, the next read
    assert len({r.metrics["replica_pid"] for r in results}) == 2


@pytest.mark.cluster
@pytest.mark.slow
def test_each_replica_answers_the_other_services_at_its_own_address(endpoint: str) -> None:
    """The services call each other over plain HTTP, skipping Ray: each replica serves its app
    on a port of its own and announces it."""
    addresses = echo_addresses()
    assert len(addresses) == 2
    for address in addresses:
        with urllib.request.urlopen(f"{address}/tools", timeout=10) as answer:
            tools = json.load(answer)["tools"]
        assert "wait" in {t["function"]["name"] for t in tools}


@pytest.mark.cluster
@pytest.mark.slow
def test_the_policy_is_steered_through_the_cluster_endpoint(endpoint: str) -> None:
    with RolloutClient(endpoint) as client:
        assert client.set_policy_version(5).version == 5
        assert client.pause_policy().paused is True
        state = client.resume_policy(version=6)
        [result] = client.rollouts(rows("hello", 1, "42"))
    assert state.paused is False
    assert [engine.healthy for engine in state.engines] == [True]
    assert result.turns[0].policy_version == 6


@pytest.mark.cluster
@pytest.mark.slow
def test_a_stuck_policy_times_out_through_its_handle(endpoint: str) -> None:
    """The agent's handle call to the policy server is bounded as its HTTP call is locally,
    and cancelled on the policy server when it times out."""
    with RolloutClient(endpoint) as client:
        # (a batch whose every sample failed at the policy would be answered 503)
        result, fine = client.rollouts(rows("stall", 1, "42") + rows("hello", 1, "42"))
        deadline = time.monotonic() + 30
        while client.policy().in_flight and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.policy().in_flight == 0
    assert result.status == "failed"
    assert result.failure is not None
    assert result.failure.kind == "policy_timeout"
    assert fine.status == "completed"


@pytest.mark.cluster
@pytest.mark.slow
def test_a_replica_killed_mid_batch_loses_only_its_calls_and_is_replaced(endpoint: str) -> None:
    import ray

    before = echo_replicas()
    addresses = echo_addresses()
    results: list[RolloutResult] = []
    with RolloutClient(endpoint) as client:
        batch = threading.Thread(
            target=lambda: results.extend(client.rollouts(rows("wait", 6, "42")))
        )
        batch.start()
        time.sleep(2)  # every rollout is in its 4 s tool call by now
        ray.kill(ray.get_actor(before[0], namespace="serve"))
        batch.join(timeout=60)
        assert len(results) == 6  # none lost
        failed = [r for r in results if r.status == "failed"]
        assert {r.failure.kind for r in failed if r.failure} == {"replica_lost"}
        assert 0 < len(failed) < 6
        assert all(r.reward == 1.0 for r in results if r.status == "completed")

        deadline = time.monotonic() + 90
        while (len(echo_replicas()) != 2 or before[0] in echo_replicas()) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.5)
        assert len(echo_replicas()) == 2
        assert before[0] not in echo_replicas()
        while echo_addresses() & addresses == addresses and time.monotonic() < deadline:
            time.sleep(0.5)
        now = echo_addresses()
        assert len(now & addresses) == 1  # the dead replica's address is forgotten
        again = client.rollouts(rows("remember this", 4, "recalled v"))
    assert [r.status for r in again] == ["completed"] * 4


@pytest.mark.cluster
@pytest.mark.slow
def test_the_endpoint_answers_again_after_its_only_agent_replica_is_killed(endpoint: str) -> None:
    """Serve's own recovery is the cluster's supervision: nothing of RL Gym restarts it."""
    import ray

    def agent_replicas() -> list[str]:
        names = ray.util.list_named_actors(all_namespaces=True)
        return [n["name"] for n in names if n["name"].startswith("SERVE_REPLICA::gym-agent#")]

    [before] = agent_replicas()
    ray.kill(ray.get_actor(before, namespace="serve"))
    deadline = time.monotonic() + 120
    with RolloutClient(endpoint) as client:
        while True:
            try:
                results = client.rollouts(rows("remember this", 2, "recalled v"))
            except ServiceError:
                results = []  # the proxy has no replica to route to yet
            if [r.status for r in results] == ["completed"] * 2:
                break
            assert time.monotonic() < deadline, "the endpoint did not answer again"
            time.sleep(0.5)
    assert all(r.reward == 1.0 for r in results)
    assert agent_replicas() not in ([], [before])
