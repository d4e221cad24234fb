"""Rollouts per second and start time: the cluster launcher against the local one, here.

    python -m bench.cluster --env echo --rollouts 1000 --concurrency 32

Starts a scripted engine that answers instantly, then serves ENV twice on this machine: with
the local launcher (a process per service) and with the cluster launcher on a one-node Ray
cluster started here (a Ray Serve deployment per service, sessions in shared shard actors,
every call through Serve's proxy). Each time it measures the start (launch to every service
answering) and N single-turn rollouts sent as one streaming batch, C in flight (the agent
server's concurrency limit). The engine is instant, so the difference is each launcher's
overhead per rollout. `--replicas N` runs N replicas of the environment on the cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.throughput import TASKS, instant_engine, percentile, run_batch
from gym_core.config import GymConfig
from gym_core.launch.local import LocalLauncher
from gym_core.launch.ray_cluster import RayLauncher
from gym_core.protocol import RolloutResult
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parent.parent
Launcher = LocalLauncher | RayLauncher


def measure(
    name: str, launcher: Launcher, rows: list[dict[str, Any]], warm: list[dict[str, Any]]
) -> str:
    """Start, warm up, run the batch, stop; one line of figures."""
    started = time.perf_counter()
    try:
        running = launcher.start()
        asyncio.run(launcher.wait_ready())
        ready_s = time.perf_counter() - started
        asyncio.run(run_batch(running.endpoint, warm))
        batch_started = time.perf_counter()
        results = asyncio.run(run_batch(running.endpoint, rows))
        elapsed = time.perf_counter() - batch_started
    finally:
        launcher.stop()
    return f"{name}: ready in {ready_s:.1f}s; {summary(results, elapsed)}"


def summary(results: list[RolloutResult], elapsed: float) -> str:
    failed = sum(r.status == "failed" for r in results)
    totals = [r.timing.total_s * 1000 for r in results]
    return (
        f"{len(results)} rollouts ({failed} failed) in {elapsed:.2f}s = "
        f"{len(results) / elapsed:.0f} rollouts/s; episode p50 {percentile(totals, 50):.1f} ms, "
        f"p99 {percentile(totals, 99):.1f} ms"
    )


def cluster_config(base: Callable[..., GymConfig], env: str, replicas: int) -> GymConfig:
    # A replica per service as locally, on the logical CPUs of this machine: the environment
    # gets one CPU (and so one CPU worker) per replica, the agent and policy servers half each.
    return base(
        envs={env: {"cluster": {"replicas": replicas, "num_cpus": 1}}},
        cluster={"agent": {"num_cpus": 0.5}, "policy_num_cpus": 0.5},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", choices=sorted(TASKS), default="echo")
    parser.add_argument("--rollouts", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--replicas", type=int, default=1, help="environment replicas (cluster)")
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()

    import ray

    make = TASKS[args.env]
    rows = [make(i) for i in range(args.rollouts)]
    warm = [make(i) for i in range(args.warmup)]
    with instant_engine() as engine:

        def config(**overrides: Any) -> GymConfig:
            limits = {"agent_server": {"max_concurrency": args.concurrency}}
            return make_config([engine], **limits, **overrides)

        local = measure("local  ", LocalLauncher(config(), [args.env]), rows, warm)
        os.environ["PYTHONPATH"] = str(ROOT)  # the cluster's workers import the fixtures
        started = time.perf_counter()
        ray.init(address="local", include_dashboard=False, log_to_driver=False)
        ray_s = time.perf_counter() - started
        try:
            on_ray = cluster_config(config, args.env, args.replicas)
            cluster = measure("cluster", RayLauncher(on_ray, [args.env], None), rows, warm)
        finally:
            ray.shutdown()

    print(
        f"command: python -m bench.cluster --env {args.env} --rollouts {args.rollouts} "
        f"--concurrency {args.concurrency} --replicas {args.replicas}"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(local)
    print(f"{cluster} (+ {ray_s:.1f}s to start the one-node Ray cluster)")


if __name__ == "__main__":
    main()
