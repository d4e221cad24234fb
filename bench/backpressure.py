"""Thousands of concurrent episodes against a slow policy: how many complete, how long it
takes, and how much memory the agent server needs.

    python -m bench.backpressure --episodes 4096 --turn-s 5 --concurrency 4096

Starts a scripted engine that takes `--turn-s` seconds per turn (with a slot for every
episode, as a large vLLM deployment would have), then the services as `gym serve echo` starts
them, and sends every episode at once: `--mode single` as that many concurrent `/v1/rollout`
requests (each its own connection), `--mode batch` as one streamed `/v1/rollouts`. With
`--concurrency` below the episodes, the rest wait in the agent server's queue (`--queue`);
beyond that the server answers 503 with `Retry-After` and the client waits and asks again.
Reports completed %, failures by kind, wall time, and the agent server's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from pathlib import Path

from gym_core.launch.local import LocalLauncher
from gym_core.launch.plan import AGENT
from gym_core.open_files import open_files_needed, raise_open_file_limit
from gym_core.protocol import RolloutResult
from gym_core.rollout_client import AsyncRolloutClient
from tests.conftest import make_config, scripted_engine


def task(index: int) -> dict[str, str]:
    return {"id": f"t{index}", "env": "echo", "prompt": f"say {index}", "expected": "42"}


async def run_single(endpoint: str, episodes: int) -> list[RolloutResult]:
    async with AsyncRolloutClient(endpoint, max_connections=episodes) as client:
        return list(await asyncio.gather(*(client.rollout(task(i)) for i in range(episodes))))


async def run_batch(endpoint: str, episodes: int) -> list[RolloutResult]:
    async with AsyncRolloutClient(endpoint) as client:
        return [result async for result in client.stream([task(i) for i in range(episodes)])]


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=4096)
    parser.add_argument("--turn-s", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=4096)
    parser.add_argument("--queue", type=int, default=4096)
    parser.add_argument("--mode", choices=["single", "batch"], default="single")
    args = parser.parse_args()
    raise_open_file_limit(open_files_needed(args.episodes))

    rules = [{"reply": "The answer is 42", "delay_s": args.turn_s}]
    overrides = {
        "agent_server": {
            "max_concurrency": args.concurrency,
            "max_queue": args.queue,
            "max_batch_samples": min(args.episodes, args.concurrency + args.queue),
        },
        "policy": {"max_concurrency_per_replica": args.episodes},
    }
    run = run_single if args.mode == "single" else run_batch
    with scripted_engine(rules, max_concurrency=args.episodes) as engine:
        launcher = LocalLauncher(make_config([engine], **overrides), ["echo"])
        with launcher:
            running = launcher.start()
            asyncio.run(launcher.wait_ready())
            agent = next(process for process in launcher.processes if process.name == AGENT)
            started = time.perf_counter()
            results = asyncio.run(run(running.endpoint, args.episodes))
            elapsed = time.perf_counter() - started
            rss = peak_rss_mb(agent.pid)

    completed = sum(result.status == "completed" for result in results)
    failures = Counter(result.failure.kind for result in results if result.failure)
    print(
        f"command: python -m bench.backpressure --episodes {args.episodes} --turn-s "
        f"{args.turn_s:g} --concurrency {args.concurrency} --queue {args.queue} --mode {args.mode}"
    )
    print(
        f"completed: {completed}/{args.episodes} ({100 * completed / args.episodes:.2f}%), "
        f"failed by kind: {dict(failures) or 'none'}"
    )
    print(f"wall time: {elapsed:.1f}s (one turn takes {args.turn_s:g}s)")
    print(f"agent server peak RSS: {rss:.0f} MiB")
    for kind in failures:
        first = next(r for r in results if r.failure and r.failure.kind == kind)
        print(f"  first {kind}: {first.failure.message if first.failure else ''}")


if __name__ == "__main__":
    main()
