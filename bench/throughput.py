"""Rollouts per second, and the overhead per rollout, against an instant scripted policy.

    python -m bench.throughput --env echo --rollouts 2000 --concurrency 32

Starts a scripted OpenAI-compatible engine that answers instantly, then the services exactly as
`gym serve ENV` starts them (policy server, resources server, agent server), and runs N
single-turn rollouts through the rollout endpoint with C in flight. Everything but the engine's
(zero) thinking time is overhead: HTTP hops, validation, sessions, verification. The CPU time
the services and their workers spend per rollout is reported beside the rate: on a busy
machine it moves far less than the rate does.

`--env echo` is the smallest environment with tools (the test fixture): the figure is the
framework's own, for an episode in a session. `--env plain` is the same without tools, so
verified in one call with no session (two hops: the policy, the verifier). `--env math` adds
math-verify's real verification in the CPU workers.
`--mode batch` sends one streaming `/v1/rollouts` request (a trainer's way; C is the agent
server's concurrency limit); `--mode single` keeps C `/v1/rollout` requests in flight (the
way `gym rollout` collects). `--samples K` sends each task K times, as a GRPO group.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Iterator

import psutil

from gym_core.launch.local import start_service, stop_processes
from gym_core.protocol import RolloutResult
from gym_core.rollout_client import AsyncRolloutClient
from tests.conftest import gym_stack, wait_healthy

TASKS = {
    "echo": lambda i: {"id": f"t{i}", "env": "echo", "prompt": f"say {i}", "expected": "42"},
    "plain": lambda i: {"id": f"t{i}", "env": "plain", "prompt": f"say {i}", "expected": "42"},
    "math": lambda i: {
        "id": f"t{i}",
        "env": "math",
        "prompt": f"What is {i}+{42 - i}?",
        "answer": "42",
    },
}


async def run_batch(endpoint: str, rows: list[dict], samples: int = 1) -> list[RolloutResult]:
    async with AsyncRolloutClient(endpoint) as client:
        return [result async for result in client.stream(rows, samples)]


async def run_single(endpoint: str, rows: list[dict], concurrency: int) -> list[RolloutResult]:
    queue = list(reversed(rows))
    results: list[RolloutResult] = []
    async with AsyncRolloutClient(endpoint) as client:

        async def worker() -> None:
            while queue:
                results.append(await client.rollout(queue.pop()))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


@contextlib.contextmanager
def instant_engine() -> Iterator[str]:
    """A scripted engine that answers every request at once; yields its URL."""
    engine = start_service(
        "policy_clients.scripted:create_app",
        {"rules": [{"reply": "The answer is \\boxed{42}"}]},
        name="instant-engine",
    )
    try:
        wait_healthy(engine)
        yield engine.url
    finally:
        stop_processes([engine])


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User and system CPU time of `processes` so far."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(process.cpu_times()[:2])
    return total


def percentile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", choices=sorted(TASKS), default="echo")
    parser.add_argument("--rollouts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--mode", choices=["batch", "single"], default="batch")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--samples", type=int, default=1, help="samples per task (a GRPO group); batch mode"
    )
    args = parser.parse_args()
    if args.samples < 1 or args.rollouts % args.samples:
        parser.error("--samples must divide --rollouts")
    if args.samples > 1 and args.mode != "batch":
        parser.error("--samples needs --mode batch (a group is one request's)")

    with instant_engine() as engine:
        engines = {child.pid for child in psutil.Process().children()}
        overrides = {"agent_server": {"max_concurrency": args.concurrency}}
        with gym_stack([args.env], [engine], **overrides) as running:
            make = TASKS[args.env]
            warm = [make(i) for i in range(args.warmup)]
            rows = [make(i) for i in range(args.rollouts // args.samples)]
            if args.mode == "batch":
                asyncio.run(run_batch(running.endpoint, warm))
            else:
                asyncio.run(run_single(running.endpoint, warm, args.concurrency))
            services = [
                process
                for process in psutil.Process().children(recursive=True)
                if process.pid not in engines
            ]
            cpu_before, started = cpu_seconds(services), time.perf_counter()
            if args.mode == "batch":
                results = asyncio.run(run_batch(running.endpoint, rows, args.samples))
            else:
                results = asyncio.run(run_single(running.endpoint, rows, args.concurrency))
            elapsed = time.perf_counter() - started
            cpu = cpu_seconds(services) - cpu_before

    failed = [r for r in results if r.status == "failed"]
    totals = [r.timing.total_s * 1000 for r in results]
    policy = [r.timing.policy_s * 1000 for r in results]
    print(
        f"command: python -m bench.throughput --env {args.env} --rollouts {args.rollouts} "
        f"--concurrency {args.concurrency} --mode {args.mode} --samples {args.samples}"
    )
    print(
        f"rollouts: {len(results)} ({len(failed)} failed), mean reward "
        f"{statistics.fmean(r.reward or 0 for r in results):.3f}"
    )
    print(f"throughput: {len(results) / elapsed:.0f} rollouts/s ({elapsed:.2f}s)")
    print(
        f"CPU per rollout (services and their workers): {1000 * cpu / len(results):.2f} ms; "
        f"load average {psutil.getloadavg()[0]:.1f}"
    )
    print(
        "overhead per rollout (episode wall time, instant policy): "
        f"p50 {percentile(totals, 50):.1f} ms, p99 {percentile(totals, 99):.1f} ms"
    )
    print(f"  of which the policy hop (gateway + engine): p50 {percentile(policy, 50):.1f} ms")


if __name__ == "__main__":
    main()
