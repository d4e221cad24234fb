"""How fast the workplace environment runs: rollouts per second against an instant scripted
policy, and verifications per second of its state comparison.

    .venv/bin/python -m bench.workplace_env [--tasks 50] [--samples 10] [--seconds 3]

Rollouts: generated hard tasks (two to eight writes each), each answered rightly by the
scripted engine: one turn with the reference calls, then a final answer, so a rollout is two
policy turns, the calls and a verify through the services. Verifications, in this process on
one core: `warm` is a finished session's database snapshotted and compared with the reference
end state (cached per task, as the samples of a group share it); `cold` also builds the
task's company and replays the reference calls. Prints its figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from bench.scripted_rollouts import distinct_prompts, mean_reward, p50_ms, timed_rollouts
from environments.workplace.generate import generate_tasks
from environments.workplace.server import Call, WorkplaceServer, WorkplaceTask
from resources_server import NoSettings, Trajectory
from tests.fixtures.scripted_rules import calls_then_done


def rules(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return calls_then_done(
        (
            row["prompt"][-1]["content"],
            [Call.model_validate(c).model_dump() for c in row["ground_truth"]],
        )
        for row in rows
    )


def rollouts(rows: list[dict[str, Any]], samples: int) -> None:
    elapsed, results = timed_rollouts("workplace", rules(rows), rows, samples, warm_up=2)
    calls = sum(int(r.metrics["num_tool_calls"]) for r in results)  # type: ignore[call-overload]
    print(
        f"workplace: {len(results)} rollouts ({len(rows)} hard tasks x {samples}), {calls} tool "
        f"calls in {elapsed:.2f}s: {len(results) / elapsed:.0f} rollouts/s, "
        f"{calls / elapsed:.0f} tool calls/s, episode p50 {p50_ms(results):.0f} ms, mean reward "
        f"{mean_reward(results):.2f}"
    )
    shares = {part: statistics.mean(getattr(r.timing, f"{part}_s") for r in results) for part in
              ("policy", "tools", "verify")}  # fmt: skip
    print("  mean per episode: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in shares.items()))


async def verifications(rows: list[dict[str, Any]], seconds: float) -> None:
    server = WorkplaceServer(NoSettings(), None)  # type: ignore[arg-type]
    tasks = [WorkplaceTask.model_validate(row) for row in rows]
    solved = []
    for task in tasks:
        company = await server.seed(task)
        for call in task.ground_truth:
            await server.replay(company, call, "bench")
        solved.append(company)
    nothing = Trajectory(messages=[])
    for label, cold in (("warm", False), ("cold", True)):
        done, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for task, company in zip(tasks, solved, strict=True):
                if cold:
                    server = WorkplaceServer(NoSettings(), None)  # type: ignore[arg-type]
                verdict = await server.verify(task, nothing, company)
                if verdict.reward != 1.0:
                    raise AssertionError(f"the reference failed: {verdict.metrics}")
                done += 1
        elapsed = time.perf_counter() - started
        print(f"workplace: {done / elapsed:.0f} {label} verifications/s on one core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=50, help="distinct generated hard tasks")
    parser.add_argument("--samples", type=int, default=10, help="samples per task")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to verify")
    args = parser.parse_args()
    rows = distinct_prompts(
        [{**row, "env": "workplace"} for row in generate_tasks(args.tasks, 7, "hard")]
    )
    asyncio.run(verifications(rows, args.seconds))
    rollouts(rows, args.samples)


if __name__ == "__main__":
    main()
