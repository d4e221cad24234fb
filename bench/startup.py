"""Time from `gym serve ENVS` to ready: every service answering /healthz, the endpoint printed.

    python -m bench.startup --envs math --runs 5
    python -m bench.startup --envs math --runs 3 --embedded

Each run starts the command as a user would, in a fresh process, and stops the clock when the
banner with the rollout endpoint appears (the launcher prints it once every service answers
`/healthz`); then it sends SIGTERM and waits for a clean exit. A first, unmeasured run warms
the page cache and writes the bytecode Python caches on a user's machine: the benchmark
clears `PYTHONDONTWRITEBYTECODE` for its runs, since with it set every start compiles every
module (RL Gym's and its dependencies') from source again. Beside the wall time it prints the
CPU time spent by the moment of ready, by the launcher (whose imports every service is forked
with, so its time is all on the way to ready) and by everything it started.
Without `--embedded` the policy is a scripted engine started beforehand (as a user with a
running vLLM would pass `--policy-url`); with it, the embedded CPU model loads as part of
the start.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

import psutil

from gym_core.launch.local import start_service, stop_processes
from tests.conftest import wait_healthy

GYM = [sys.executable, "-c", "from gym_core.cli import main; raise SystemExit(main())"]
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def time_to_ready(envs: str, policy: list[str]) -> tuple[float, float, float]:
    """Seconds to ready, and the CPU seconds the launcher and all of its processes had
    spent by then (wall time on a busy machine is mostly waiting for a core)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [*GYM, "serve", envs, "--port", "0", *policy], stdout=subprocess.PIPE, text=True, env=ENV
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if line.startswith("RL Gym is serving"):
                elapsed = time.perf_counter() - started
                launcher = psutil.Process(process.pid)
                services = launcher.children(recursive=True)
                return elapsed, cpu_seconds([launcher]), cpu_seconds([launcher, *services])
        raise RuntimeError(f"gym serve exited with {process.wait()} before it was ready")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        process.stdout.close()


def cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(sum(process.cpu_times()[:2]) for process in processes)


def summary(values: list[float]) -> str:
    return (
        f"min {min(values):.2f}s, median {statistics.median(values):.2f}s, max {max(values):.2f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", default="math")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--embedded", action="store_true", help="the embedded model, not a URL")
    args = parser.parse_args()
    engine = None
    if not args.embedded:
        engine = start_service("policy_clients.scripted:create_app", {}, name="engine")
        wait_healthy(engine)
    try:
        policy = [] if engine is None else ["--policy-url", engine.url]
        time_to_ready(args.envs, policy)  # warm the page cache and bytecode
        runs = [time_to_ready(args.envs, policy) for _ in range(args.runs)]
    finally:
        if engine is not None:
            stop_processes([engine])
    flag = " --embedded" if args.embedded else ""
    print(f"command: python -m bench.startup --envs {args.envs} --runs {args.runs}{flag}")
    wall, launcher, everything = (list(column) for column in zip(*runs, strict=True))
    print(
        f"gym serve {args.envs} -> ready: {summary(wall)} "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print(f"  CPU by then, launcher: {summary(launcher)}; with its services: {summary(everything)}")


if __name__ == "__main__":
    main()
