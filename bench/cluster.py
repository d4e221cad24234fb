"""Rollouts per second, CPU per rollout and start time: the cluster launcher against the local
one, here.

    python -m bench.cluster --env echo --rollouts 1000 --concurrency 32 --replicas 1,2,4

Starts a scripted engine that answers instantly, then serves ENV on this machine with the local
launcher (a process per service), and with the cluster launcher on a one-node Ray cluster
started here (a Ray Serve deployment per service, sessions in shared shard actors, calls
between services over HTTP to the replicas' own ports, the trainer's through Serve's proxy)
once for
each number of environment replicas. Each time it measures the start (launch to every service
answering) and N single-turn rollouts sent as one streaming batch, C in flight (the agent
server's concurrency limit), and the CPU time every process under this one spent meanwhile
(services, Ray's own processes; not the engine, started before, nor this process, the
trainer). The engine is instant, so the difference is each launcher's overhead per rollout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
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
TITLE_CHARS = 60
TOP_PROCESSES = 6


@dataclass
class Figures:
    """One launcher's run."""

    ready_s: float
    elapsed_s: float
    cpu_s: float
    results: list[RolloutResult]
    by_process: dict[str, float]
    """CPU seconds by process title, most first."""

    @property
    def cpu_ms_per_rollout(self) -> float:
        return self.cpu_s * 1000 / len(self.results)

    def line(self, name: str) -> str:
        failed = sum(r.status == "failed" for r in self.results)
        totals = [r.timing.total_s * 1000 for r in self.results]
        return (
            f"{name}: ready in {self.ready_s:.1f}s; {len(self.results)} rollouts ({failed} "
            f"failed) in {self.elapsed_s:.2f}s = {len(self.results) / self.elapsed_s:.0f} "
            f"rollouts/s, {self.cpu_ms_per_rollout:.1f} ms CPU per rollout; episode p50 "
            f"{percentile(totals, 50):.1f} ms, p99 {percentile(totals, 99):.1f} ms"
        )


def measure(
    launcher: Launcher, rows: list[dict[str, Any]], warm: list[dict[str, Any]], skip: set[int]
) -> Figures:
    """Start, warm up, run the batch, stop. `skip`: processes whose CPU is not counted."""
    started = time.perf_counter()
    try:
        running = launcher.start()
        asyncio.run(launcher.wait_ready())
        ready_s = time.perf_counter() - started
        asyncio.run(run_batch(running.endpoint, warm))
        cpu_before = cpu_times(skip)
        batch_started = time.perf_counter()
        results = asyncio.run(run_batch(running.endpoint, rows))
        elapsed = time.perf_counter() - batch_started
        cpu_after = cpu_times(skip)
    finally:
        launcher.stop()
    by_process: dict[str, float] = {}
    for pid, (title, cpu) in cpu_after.items():
        by_process[title] = by_process.get(title, 0.0) + cpu - cpu_before.get(pid, ("", 0.0))[1]
    ranked = dict(sorted(by_process.items(), key=lambda item: -item[1]))
    return Figures(ready_s, elapsed, sum(ranked.values()), results, ranked)


def cpu_times(skip: set[int]) -> dict[int, tuple[str, float]]:
    """The title and CPU seconds (user + system, and of reaped children) of each process under
    this one."""
    import psutil

    times = {}
    for process in psutil.Process().children(recursive=True):
        if process.pid in skip:
            continue
        with contextlib.suppress(psutil.Error):
            cpu = process.cpu_times()
            title = " ".join(process.cmdline())[:TITLE_CHARS]
            spent = cpu.user + cpu.system + cpu.children_user + cpu.children_system
            times[process.pid] = (title, spent)
    return times


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
    parser.add_argument(
        "--replicas", default="1,2,4", help="environment replicas on the cluster, e.g. 1,2,4"
    )
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--by-process", action="store_true", help="where the CPU went")
    args = parser.parse_args()
    replica_counts = [int(count) for count in args.replicas.split(",")]

    import psutil
    import ray

    make = TASKS[args.env]
    rows = [make(i) for i in range(args.rollouts)]
    warm = [make(i) for i in range(args.warmup)]
    with instant_engine() as engine:
        skip = {process.pid for process in psutil.Process().children(recursive=True)}

        def config(**overrides: Any) -> GymConfig:
            limits = {"agent_server": {"max_concurrency": args.concurrency}}
            return make_config([engine], **limits, **overrides)

        local = measure(LocalLauncher(config(), [args.env]), rows, warm, skip)
        os.environ["PYTHONPATH"] = str(ROOT)  # the cluster's workers import the fixtures
        started = time.perf_counter()
        ray.init(
            address="local",
            include_dashboard=False,
            log_to_driver=False,
            num_cpus=max(replica_counts) + 1,  # logical: one per replica, as `cluster_config`
        )
        ray_s = time.perf_counter() - started
        clusters = {}
        try:
            for count in replica_counts:
                on_ray = cluster_config(config, args.env, count)
                clusters[count] = measure(RayLauncher(on_ray, [args.env], None), rows, warm, skip)
        finally:
            ray.shutdown()

    print(
        f"command: python -m bench.cluster --env {args.env} --rollouts {args.rollouts} "
        f"--concurrency {args.concurrency} --replicas {args.replicas}"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(local.line("local            "))
    for count, figures in clusters.items():
        ratio = figures.cpu_ms_per_rollout / local.cpu_ms_per_rollout
        print(f"{figures.line(f'cluster, {count} env'.ljust(17))}; {ratio:.1f}x local's CPU")
    if args.by_process:
        runs = {"local": local, **{f"cluster {c}": f for c, f in clusters.items()}}
        for name, figures in runs.items():
            for title, cpu in list(figures.by_process.items())[:TOP_PROCESSES]:
                per_rollout = cpu * 1000 / len(figures.results)
                print(f"  {name}: {per_rollout:5.1f} ms/rollout  {title}")
    print(f"(+ {ray_s:.1f}s to start the one-node Ray cluster before the first cluster start)")


if __name__ == "__main__":
    main()
