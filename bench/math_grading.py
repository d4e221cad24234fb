"""Math verifications per second, as the resources server runs them: seed, then verify in its
CPU workers (no HTTP: `bench.throughput --env math` measures the whole rollout).

    .venv/bin/python -m bench.math_grading [--workers 2] [--repeats 5]

Two workloads: `bundled`, the 200 bundled problems with their reference and wrong answers (400
verifications of numeric gold answers, the common case), and `labelled`, the labelled cases of
tests/environments/math_cases.py (units, separators, restatements, closed forms, boxes). Each
repeat starts a fresh pool (empty caches), warms it with one verification, then keeps twice
`--workers` verifications in flight. Printed: the median over repeats of verifications per
second (wall clock) and of CPU milliseconds per verification, counting the workers and this
process (the event loop's share); CPU time hardly moves when others load the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import psutil

from environments.math.server import MathServer, MathTask
from gym_core.protocol import Message
from gym_core.settings import DEFAULT_VERIFY_CPU_LIMIT_S
from resources_server import NoSettings, Trajectory
from resources_server.cpu_pool import CpuPool
from tests.environments.math_cases import CASES

DATA = Path(__file__).resolve().parent.parent / "environments" / "math" / "data"

Item = tuple[MathTask, Trajectory]


def item(prompt: str, gold: str, response: str) -> Item:
    task = MathTask.model_validate({"id": "bench", "prompt": prompt, "answer": gold})
    messages = [Message(role="user", content=prompt), Message(role="assistant", content=response)]
    return task, Trajectory(messages=messages)


def rows(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def bundled() -> list[Item]:
    problems = {row["id"]: row for row in rows(DATA / "problems.jsonl")}
    items = []
    for solution in rows(DATA / "solutions.jsonl"):
        problem = problems[solution["id"]]
        for response in (solution["reference"], solution["wrong"]):
            items.append(item(problem["prompt"], problem["answer"], response))
    return items


def labelled() -> list[Item]:
    return [item(case.prompt, case.gold, case.response) for case in CASES]


def cpu_seconds() -> float:
    """CPU time of this process and every process under it (the pool's workers)."""
    processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
    return sum(sum(process.cpu_times()[:2]) for process in processes)


async def verified(server: MathServer, task: MathTask, trajectory: Trajectory) -> float:
    state = await server.seed(task)
    verdict = await server.verify(task, trajectory, state)
    return verdict.reward


async def run(items: list[Item], workers: int) -> tuple[float, float, float]:
    """Verifications per second, CPU ms per verification, and the mean reward."""
    pool = CpuPool(workers, cpu_limit_s=DEFAULT_VERIFY_CPU_LIMIT_S, preload=MathServer.cpu_preload)
    server = MathServer(NoSettings(), pool)
    try:
        await verified(server, *item("What is 3 + 4?", "7", "\\boxed{7}"))
        pending = iter(items)
        rewards: list[float] = []

        async def keep_busy() -> None:
            for task, trajectory in pending:
                rewards.append(await verified(server, task, trajectory))

        cpu_before, started = cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(keep_busy() for _ in range(2 * workers)))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
    finally:
        await pool.close()
    return len(items) / elapsed, 1000 * cpu / len(items), statistics.fmean(rewards)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(
        f"command: {Path(sys.executable).name} -m bench.math_grading "
        f"--workers {args.workers} --repeats {args.repeats}"
    )
    for name, items in (("bundled", bundled()), ("labelled", labelled())):
        runs = [asyncio.run(run(items, args.workers)) for _ in range(args.repeats)]
        rates, cpu_ms, rewards = zip(*runs, strict=True)
        print(
            f"{name}: {len(items)} verifications, {statistics.median(rates):.0f}/s "
            f"(min {min(rates):.0f}, max {max(rates):.0f}), "
            f"{statistics.median(cpu_ms):.2f} CPU ms each, mean reward {rewards[0]:.3f}"
        )


if __name__ == "__main__":
    main()
