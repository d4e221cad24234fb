"""Issue 15's figures side by side, in one run on one machine: local throughput (echo, plain,
math), `gym rollout math` end to end, the cluster against local, and the start time.

    python -m bench.scale

Each figure comes from its own benchmark, run here one after the other as a fresh process
(`bench.throughput`, `bench.cluster`, `bench.startup`), so that one run's leftovers never
weigh on the next; the machine's load average is printed before each, since on a shared
machine it moves the figures more than any change does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.throughput import instant_engine

RUNS = [
    ["bench.throughput", "--env", "echo", "--rollouts", "2000", "--concurrency", "32"],
    ["bench.throughput", "--env", "plain", "--rollouts", "2000", "--concurrency", "32"],
    ["bench.throughput", "--env", "math", "--rollouts", "1000", "--concurrency", "32"],
    ["bench.cluster", "--env", "plain", "--rollouts", "1000", "--concurrency", "32"],
    ["bench.cluster", "--env", "echo", "--rollouts", "1000", "--concurrency", "32"],
    ["bench.startup", "--envs", "math", "--runs", "5"],
]


def gym_rollout_math(samples: int = 16) -> None:
    """`gym rollout math` as a user runs it against a running engine: start, every bundled
    task `samples` times, write the JSONL, stop; the wall time of the whole command."""
    gym = [sys.executable, "-c", "from gym_core.cli import main; raise SystemExit(main())"]
    with instant_engine() as url, tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "results.jsonl"
        argv = ["rollout", "math", "--policy-url", url, "--samples", str(samples)]
        started = time.perf_counter()
        command = [*gym, *argv, "--concurrency", "64", "--out", str(out)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        count = len(out.read_bytes().splitlines())
    print(f"gym {' '.join(argv)}: {count} rollouts in {wall:.2f}s, start and stop included")
    print(f"  = {count / wall:.0f} rollouts/s")


def announce(command: str) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\n$ {command}    (load average {load})", flush=True)


def main() -> None:
    announce("gym rollout math against an instant engine")
    gym_rollout_math()
    for run in RUNS:
        announce(f"python -m {' '.join(run)}")
        subprocess.run([sys.executable, "-m", *run], check=True)


if __name__ == "__main__":
    main()
