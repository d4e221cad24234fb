"""How long the hub's steps take: validating an environment, and publishing the scaffold.

    .venv/bin/python -m bench.hub [--env math]

Prints the wall time of `gym hub validate` on a catalog environment (with its verify latency
p50/p99), and of `gym hub new` + `gym hub publish` (validation, the offline wheel build and the
hub update) on the scaffold, in a temporary directory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.hub.publish import publish
from gym_core.hub.scaffold import scaffold
from gym_core.hub.validate import validate_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="math", help="the catalog environment to validate")
    args = parser.parse_args()
    print(f"command: {Path(sys.executable).name} -m bench.hub --env {args.env}")

    started = time.perf_counter()
    report = validate_env(load_config(default_catalog_path()), args.env)
    seconds = time.perf_counter() - started
    latency = report.verify_latency_ms
    print(
        f"validate {args.env}: {'passed' if report.passed else 'FAILED'} in {seconds:.1f}s, "
        f"{report.examples} examples, verify p50 {latency.p50 if latency else '-'} ms, "
        f"p99 {latency.p99 if latency else '-'} ms"
    )
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        project = scaffold("bench_letters", Path(scratch))
        [published] = publish(project, Path(scratch) / "hub")
        seconds = time.perf_counter() - started
        card = published.card
        print(
            f"new + publish bench_letters: {seconds:.1f}s, wheel {published.wheel.name} "
            f"({published.wheel.stat().st_size} bytes), verify p50 "
            f"{card.verify_latency_ms.p50} ms, p99 {card.verify_latency_ms.p99} ms"
        )


if __name__ == "__main__":
    main()
