"""GRPO with TRL through RL Gym: SmolLM2-135M learns single-digit additions on a CPU.

    uv run --extra trl python examples/grpo_trl.py           # 12 steps, a few minutes on 2 cores

The TRL twin of `examples/grpo_torch.py`: the same task, with TRL's `GRPOTrainer` doing the
update. The trainer serves the model it trains (`LivePolicy`), `gym serve math --policy-url`
points RL Gym at it, and the adapter in `trainers/trl.py` hands TRL every batch from the
rollout endpoint and tells the endpoint the new policy version after each optimizer step.
"""

from __future__ import annotations

import os

# TRY NOT TO MODIFY: torch's OpenMP threads sleep while they wait instead of spinning (on a busy
# CPU, spinning made forwards ~10x slower); set before torch is imported. And TRL marks
# `rollout_func` experimental.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

import argparse
import contextlib
import random
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import torch
from trl import GRPOConfig, GRPOTrainer

from gym_core.rollout_client import RolloutClient
from trainers.live_policy import LivePolicy
from trainers.smollm2 import load_smollm2
from trainers.trl import trl_rollouts


@dataclass
class Args:
    steps: int = 12
    """optimizer steps"""
    prompts: int = 8
    """tasks per step"""
    samples: int = 4
    """samples of each task: one GRPO group"""
    max_tokens: int = 48
    """longest answer, in tokens"""
    learning_rate: float = 2e-5
    """AdamW's learning rate"""
    held_out: int = 30
    """single-digit additions kept out of training, for evaluation"""
    seed: int = 0
    """seeds torch and TRL"""


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field in fields(Args):
        parser.add_argument(
            f"--{field.name.replace('_', '-')}", type=type(field.default), default=field.default
        )
    return Args(**vars(parser.parse_args()))


# THE TASKS: the same as examples/grpo_torch.py's, split the same way, so the runs compare.
def addition(a: int, b: int) -> dict[str, Any]:
    prompt = f"What is {a} + {b}?\n\nPut your final answer in \\boxed{{}}."
    return {"id": f"add-{a}-{b}", "env": "math", "prompt": prompt, "answer": str(a + b)}


def split_tasks(held_out: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """All 100 single-digit additions: training tasks, then the held-out ones (the same on
    every run, whatever `--seed`)."""
    pairs = [(a, b) for a in range(10) for b in range(10)]
    random.Random(0).shuffle(pairs)
    tasks = [addition(a, b) for a, b in pairs]
    return tasks[held_out:], tasks[:held_out]


@contextlib.contextmanager
def gym_serve(env: str, policy_url: str) -> Iterator[str]:
    """`gym serve ENV --policy-url URL` until the block ends; yields the rollout endpoint."""
    gym = shutil.which("gym")
    if gym is None:
        raise SystemExit("the `gym` command is not on PATH: run this with `uv run`")
    command = [gym, "serve", env, "--policy-url", policy_url, "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        for line in process.stdout or ():
            found = re.search(r"rollout endpoint: (http://\S+)/v1/rollouts", line)
            if found:
                break
        else:
            raise SystemExit(f"gym serve exited with {process.wait()}")
        yield found.group(1)
    finally:
        process.terminate()
        process.wait(timeout=30)


def evaluate(endpoint: str, tasks: list[dict[str, Any]], max_tokens: int) -> float:
    """Share of `tasks` answered correctly, greedily; a failed rollout counts as wrong here,
    so that an evaluation never looks better because some of it broke."""
    with RolloutClient(endpoint) as client:
        results = client.rollouts(tasks, sampling={"temperature": 0, "max_tokens": max_tokens})
    return sum(result.reward or 0.0 for result in results) / len(results)


def main(args: Args) -> list[float]:
    # TRY NOT TO MODIFY: seeding
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    training, evaluation = split_tasks(args.held_out)

    model, tokenizer = load_smollm2()
    policy = LivePolicy(model, tokenizer, host="127.0.0.1")
    try:
        with gym_serve("math", policy.url) as endpoint:
            before = evaluate(endpoint, evaluation, args.max_tokens)
            print(f"held-out accuracy before training: {before:.2f}", flush=True)

            # ALGO LOGIC: TRL's GRPO, with RL Gym as its rollout function
            gym = trl_rollouts(endpoint, training, policy=policy)
            config = GRPOConfig(
                output_dir=tempfile.mkdtemp(prefix="grpo-trl-"),
                max_steps=args.steps,
                per_device_train_batch_size=args.prompts * args.samples,
                num_generations=args.samples,
                max_completion_length=args.max_tokens,
                temperature=1.0,
                learning_rate=args.learning_rate,
                beta=0.0,  # no reference model: a KL term would double the CPU work
                seed=args.seed,
                use_cpu=True,
                activation_checkpointing=False,  # 135M parameters: memory is not short
                logging_steps=1,
                save_strategy="no",
                report_to="none",
                disable_tqdm=True,
            )
            trainer = GRPOTrainer(
                model,
                reward_funcs=gym.reward_func,
                args=config,
                train_dataset=gym.dataset,
                rollout_func=gym.rollout_func,
                callbacks=[gym.callback],
                processing_class=tokenizer,
            )
            started = time.perf_counter()
            trainer.train()
            minutes = (time.perf_counter() - started) / 60
            gym.close()

            after = evaluate(endpoint, evaluation, args.max_tokens)
    finally:
        policy.close()

    curve = [entry["reward"] for entry in trainer.state.log_history if "reward" in entry]
    print("step  mean training reward")
    for step, reward in enumerate(curve, start=1):
        print(f"{step:4d}  {reward:.2f}")
    print(
        f"held-out accuracy: {before:.2f} -> {after:.2f} in {args.steps} steps ({minutes:.1f} min)"
    )
    return curve


if __name__ == "__main__":
    main(parse_args())
