"""RL Gym's share of an RL step: one GRPO step's rollouts (32 samples) through `gym serve math`
against the same generations asked of the engine directly.

    python -m bench.rl_step --tasks 8 --group-size 4 --max-tokens 48 --rounds 3

The engine is the live policy (SmolLM2-135M served from this process, as a torch trainer runs
it). Each round makes the step's 32 generations twice, alternating: through the rollout
endpoint (agent, policy server, math's resources server, verification), and as 32 concurrent
chat requests straight to the live policy with the seeds the agent derives for each sample, so
both paths sample the same tokens. RL Gym's share is the difference over the step's time.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see examples/grpo_torch.py

import argparse
import asyncio
import statistics
import time
from typing import Any

from agent_server.runner import sample_seed
from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.http_client import HttpClient
from gym_core.launch.local import LocalLauncher
from gym_core.rollout_client import RolloutClient
from trainers.live_policy import LivePolicy
from trainers.smollm2 import load_smollm2

SEED = 1234


def step_tasks(count: int, round_: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"r{round_}-{i}",
            "env": "math",
            "prompt": f"What is {i % 10} + {(i * 7 + round_) % 10}?\n\n"
            "Put your final answer in \\boxed{}.",
            "answer": str(i % 10 + (i * 7 + round_) % 10),
        }
        for i in range(count)
    ]


async def direct(url: str, tasks: list[dict[str, Any]], group: int, max_tokens: int) -> float:
    """Seconds for the step's generations asked of the engine itself, all at once."""

    async def ask(http: HttpClient, task: dict[str, Any], index: int) -> None:
        body = {
            "messages": [{"role": "user", "content": task["prompt"]}],
            "max_tokens": max_tokens,
            "temperature": 1.0,
            "seed": sample_seed(SEED, task["id"], index),
        }
        await http.post(f"{url}/v1/chat/completions", body)

    async with HttpClient(timeout_s=600, max_retries=0) as http:
        started = time.perf_counter()
        await asyncio.gather(*(ask(http, t, i) for t in tasks for i in range(group)))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"command: python -m bench.rl_step --tasks {args.tasks} --group-size {args.group_size} "
        f"--max-tokens {args.max_tokens} --rounds {args.rounds}"
    )
    model, tokenizer = load_smollm2()
    samples = args.tasks * args.group_size
    with LivePolicy(model, tokenizer, max_batch_size=samples) as policy:
        overrides = {"policy": {"engine_urls": [policy.url]}, "serve": {"port": 0}}
        launcher = LocalLauncher(load_config(default_catalog_path(), overrides=overrides), ["math"])
        running = launcher.start()
        try:
            asyncio.run(launcher.wait_ready())
            sampling = {"temperature": 1.0, "max_tokens": args.max_tokens, "seed": SEED}
            with RolloutClient(running.endpoint) as client:
                client.rollouts(step_tasks(2, -1), sampling=sampling)  # warm up every service
                through, alone = [], []
                for round_ in range(args.rounds):
                    tasks = step_tasks(args.tasks, round_)
                    started = time.perf_counter()
                    results = client.rollouts(tasks, args.group_size, sampling)
                    through.append(time.perf_counter() - started)
                    alone.append(
                        asyncio.run(direct(policy.url, tasks, args.group_size, args.max_tokens))
                    )
                    failed = sum(result.status == "failed" for result in results)
                    share = (through[-1] - alone[-1]) / through[-1]
                    print(
                        f"round {round_}: {samples} samples through RL Gym {through[-1]:.2f} s, "
                        f"engine alone {alone[-1]:.2f} s: RL Gym's share {100 * share:.1f}% "
                        f"({failed} failed)",
                        flush=True,
                    )
        finally:
            launcher.stop()
    step_s, engine_s = statistics.median(through), statistics.median(alone)
    gym_s = step_s - engine_s
    print(
        f"median: step {step_s:.2f} s, engine {engine_s:.2f} s, "
        f"RL Gym {gym_s:.2f} s ({100 * gym_s / step_s:.1f}% of the step)"
    )


if __name__ == "__main__":
    main()
