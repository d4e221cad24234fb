"""Issue 15's figures side by side, in one run on one machine: local throughput (echo, plain,
math), the cluster against local, and the start time.

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

RUNS = [
    ["bench.throughput", "--env", "echo", "--rollouts", "2000", "--concurrency", "32"],
    ["bench.throughput", "--env", "plain", "--rollouts", "2000", "--concurrency", "32"],
    ["bench.throughput", "--env", "math", "--rollouts", "1000", "--concurrency", "32"],
    ["bench.cluster", "--env", "plain", "--rollouts", "1000", "--concurrency", "32"],
    ["bench.cluster", "--env", "echo", "--rollouts", "1000", "--concurrency", "32"],
    ["bench.startup", "--envs", "math", "--runs", "5"],
]


def main() -> None:
    for run in RUNS:
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"\n$ python -m {' '.join(run)}    (load average {load})", flush=True)
        subprocess.run([sys.executable, "-m", *run], check=True)


if __name__ == "__main__":
    main()
