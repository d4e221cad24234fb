"""GRPO on a CPU, in one file: SmolLM2-135M learns single-digit additions through RL Gym.

    uv run --extra train python examples/grpo_torch.py --steps 12 --out grpo.json \
        --plot docs/grpo_curve.png

The model being trained is also the policy that answers: `LivePolicy` serves its weights from
this process, and `gym serve math` (started here by the local launcher) points its policy
server at it. Each step asks the rollout endpoint for groups of samples, scores every sample
against the others of its group (GRPO, https://arxiv.org/abs/2402.03300, section 4.1), takes
one clipped policy-gradient step on the token view the results carry (exact ids and the
logprobs they were sampled with), and tells the stack the new policy version.
"""

import os

# TRY NOT TO MODIFY: torch's OpenMP threads sleep while they wait instead of spinning. On a
# busy CPU, spinning threads waited whole time slices on each other (forwards ran ~10x slower).
# It must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import ast
import asyncio
import importlib.util
import inspect
import itertools
import json
import random
import statistics
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.launch.local import LocalLauncher
from gym_core.protocol import RolloutResult
from gym_core.rollout_client import RolloutClient
from trainers.live_policy import LivePolicy
from trainers.smollm2 import load_smollm2


@dataclass
class Args:
    steps: int = 12
    """optimizer steps; each takes one batch of rollouts"""
    seed: int = 0
    """seeds torch and the choice of training tasks"""
    tasks_per_step: int = 8
    """training tasks per step"""
    group_size: int = 8
    """samples per task: one GRPO group"""
    learning_rate: float = 2e-5
    """AdamW's learning rate"""
    temperature: float = 1.0
    """sampling temperature of the training rollouts (evaluation is greedy)"""
    max_tokens: int = 32
    """completion token limit; an answer cut short usually scores 0"""
    clip: float = 0.2
    """PPO's clip range of the probability ratio"""
    micro_batch: int = 16
    """sequences per forward and backward pass (gradients accumulate over a step)"""
    held_out: int = 30
    """single-digit additions kept out of training, for evaluation"""
    eval_every: int = 0
    """evaluate on the held-out tasks every this many steps too (0: only before and after)"""
    out: str = ""
    """write the curve and the run's figures to this JSON file"""
    plot: str = ""
    """draw the reward curve into this PNG file (needs matplotlib)"""


def parse_args() -> Args:
    """`Args` as command-line flags, each field's docstring as its help."""
    docs: dict[str, str] = {}
    body = ast.parse(inspect.getsource(Args)).body[0].body
    for field_node, doc_node in itertools.pairwise(body):
        if isinstance(field_node, ast.AnnAssign) and isinstance(doc_node, ast.Expr):
            docs[field_node.target.id] = doc_node.value.value
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field in fields(Args):
        flag = "--" + field.name.replace("_", "-")
        kind = type(field.default)
        parser.add_argument(flag, type=kind, default=field.default, help=docs.get(field.name))
    args = Args(**vars(parser.parse_args()))
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        parser.error(
            "--plot needs matplotlib: pip install matplotlib"
        )  # before minutes of training
    return args


# THE TASKS: "What is 3 + 5?" in the math environment's format; its verifier grades the answer.
def addition(a: int, b: int) -> dict[str, Any]:
    prompt = f"What is {a} + {b}?\n\nPut your final answer in \\boxed{{}}."
    return {"id": f"add-{a}-{b}", "env": "math", "prompt": prompt, "answer": str(a + b)}


def split_tasks(held_out: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """All 100 single-digit additions, split into training and held-out tasks the same way on
    every run (whatever `--seed`), so that runs are compared on the same held-out tasks."""
    pairs = [(a, b) for a in range(10) for b in range(10)]
    random.Random(0).shuffle(pairs)
    tasks = [addition(a, b) for a, b in pairs]
    return tasks[held_out:], tasks[:held_out]


def evaluate(client: RolloutClient, tasks: list[dict[str, Any]], max_tokens: int) -> float:
    """Share of `tasks` answered correctly, greedily. A failed rollout counts as wrong here:
    an evaluation must not look better because some of it broke."""
    results = client.rollouts(tasks, sampling={"temperature": 0, "max_tokens": max_tokens})
    return sum(result.reward or 0.0 for result in results) / len(results)


# ALGO LOGIC: group-relative advantages.
def advantages(results: list[RolloutResult]) -> list[tuple[RolloutResult, float]]:
    """Each usable sample with its reward's distance from its group's mean, in its group's
    standard deviations. A group whose rewards are all equal teaches nothing and is left out.

    Failed rollouts (the verifier crashed, the policy timed out, ...) are left out too, never
    scored 0: a 0 would push the model away from whatever it wrote, for a fault that was not
    its own. Their group is scored on the samples that did finish.
    """
    groups: dict[str, list[RolloutResult]] = {}
    for result in results:
        if result.status != "failed" and result.reward is not None and result.token_view:
            groups.setdefault(result.group_id, []).append(result)
    scored = []
    for group in groups.values():
        rewards = [result.reward or 0.0 for result in group]
        if len(group) < 2 or len(set(rewards)) == 1:
            continue
        mean, std = statistics.fmean(rewards), statistics.pstdev(rewards)
        scored += [
            (result, (reward - mean) / std) for result, reward in zip(group, rewards, strict=True)
        ]
    return scored


# ALGO LOGIC: the clipped policy-gradient loss, on the tokens the policy generated.
def policy_loss(
    model: Any,
    batch: list[tuple[RolloutResult, float]],
    args: Args,
    tokens_in_step: int,
    pad_id: int,
) -> torch.Tensor:
    """The batch's share of the step's loss: the PPO-clipped objective of every generated
    token, summed and divided by all the tokens of the step (token-level normalization, as
    DAPO, https://arxiv.org/abs/2503.14476, section 3.3)."""
    views = [result.token_view for result, _ in batch if result.token_view is not None]
    width = max(len(view.input_ids) for view in views)

    def padded(rows: list[list[Any]], value: Any) -> list[list[Any]]:
        return [row + [value] * (width - len(row)) for row in rows]

    ids = torch.tensor(padded([view.input_ids for view in views], pad_id))
    attention = torch.tensor(padded([[1] * len(view.input_ids) for view in views], 0))
    generated = torch.tensor(padded([view.loss_mask for view in views], 0))[:, 1:].bool()
    old_logprobs = torch.tensor(padded([view.logprobs or [] for view in views], 0.0))[:, 1:]
    advantage = torch.tensor([value for _, value in batch])[:, None].expand_as(generated)

    # Logits only where a generated token is predicted: the vocabulary projection of every
    # prompt position would cost more than the rest of the model.
    hidden = model.get_decoder()(input_ids=ids, attention_mask=attention).last_hidden_state
    logits = model.get_output_embeddings()(hidden[:, :-1][generated]) / args.temperature
    new = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:][generated][:, None])[:, 0]
    ratio = torch.exp(new - old_logprobs[generated])
    gain = advantage[generated]
    clipped = torch.clamp(ratio, 1 - args.clip, 1 + args.clip)
    return -torch.min(ratio * gain, clipped * gain).sum() / tokens_in_step


def plot_curve(curve: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    steps = [point["step"] for point in curve if "train_reward" in point]
    axes.plot(steps, [p["train_reward"] for p in curve if "train_reward" in p], label="training")
    evaluated = [point for point in curve if "held_out" in point]
    axes.plot(
        [p["step"] for p in evaluated],
        [p["held_out"] for p in evaluated],
        "o--",
        label="held-out (greedy)",
    )
    axes.set(xlabel="step", ylabel="reward", ylim=(0, 1.02), title="GRPO on CPU: SmolLM2-135M")
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    # TRY NOT TO MODIFY: seeding
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    sampler = random.Random(args.seed)
    train_tasks, held_out_tasks = split_tasks(args.held_out)

    # The model, served live from this process; the optimizer steps it in place.
    model, tokenizer = load_smollm2()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=0.0)
    policy = LivePolicy(model, tokenizer, max_batch_size=args.tasks_per_step * args.group_size)

    # `gym serve math` with the live policy as its engine, on free loopback ports.
    config = load_config(
        default_catalog_path(),
        overrides={"policy": {"engine_urls": [policy.url]}, "serve": {"port": 0}},
    )
    launcher = LocalLauncher(config, ["math"])
    running = launcher.start()
    asyncio.run(launcher.wait_ready())
    client = RolloutClient(running.endpoint)
    sampling = {"temperature": args.temperature, "max_tokens": args.max_tokens}
    try:
        before = evaluate(client, held_out_tasks, args.max_tokens)
        print(f"held-out accuracy before training: {before:.2f}", flush=True)
        curve: list[dict[str, Any]] = [{"step": 0, "held_out": before}]
        for step in range(1, args.steps + 1):
            # ROLLOUTS: groups of samples, with exact ids and logprobs, through RL Gym.
            tic = time.perf_counter()
            tasks = sampler.sample(train_tasks, args.tasks_per_step)
            results = client.rollouts(tasks, samples_per_task=args.group_size, sampling=sampling)
            rollout_s = time.perf_counter() - tic
            # The samples ran at once, so the longest one's time with the policy is the
            # step's generation time; the rest of the call is RL Gym and the environment.
            generation_s = max(result.timing.policy_s for result in results)

            # UPDATE: one optimizer step on every sample whose group carries signal.
            tic = time.perf_counter()
            scored = advantages(results)
            tokens = sum(sum(result.token_view.loss_mask) for result, _ in scored)
            model.train()
            for start in range(0, len(scored), args.micro_batch):
                batch = scored[start : start + args.micro_batch]
                policy_loss(model, batch, args, tokens, tokenizer.pad_token_id).backward()
            if scored:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                with policy.weights_update():  # no generation reads half-updated weights
                    optimizer.step()
                client.set_policy_version(policy.version)  # later turns record it
            optimizer.zero_grad()
            update_s = time.perf_counter() - tic

            finished = [result for result in results if result.status != "failed"]
            reward = statistics.fmean(result.reward or 0.0 for result in finished)
            point = {"step": step, "train_reward": reward, "failed": len(results) - len(finished)}
            print(
                f"step {step:3d}  reward {reward:.2f}  failed {point['failed']}  "
                f"trained on {len(scored)}/{len(results)} samples  "
                f"generation {generation_s:5.1f}s  environment {rollout_s - generation_s:4.1f}s  "
                f"update {update_s:5.1f}s",
                flush=True,
            )
            if args.eval_every and step % args.eval_every == 0 and step < args.steps:
                point["held_out"] = evaluate(client, held_out_tasks, args.max_tokens)
                print(f"held-out accuracy: {point['held_out']:.2f}", flush=True)
            curve.append(point)
        after = evaluate(client, held_out_tasks, args.max_tokens)
        curve[-1]["held_out"] = after
    finally:
        client.close()
        launcher.stop()
        policy.close()
    wall_s = time.perf_counter() - started
    print(f"held-out accuracy: {before:.2f} -> {after:.2f} in {args.steps} steps, {wall_s:.0f}s")
    if args.out:
        run = {"args": asdict(args), "before": before, "after": after, "wall_s": wall_s}
        Path(args.out).write_text(json.dumps({**run, "curve": curve}, indent=1))
    if args.plot:
        plot_curve(curve, args.plot)


if __name__ == "__main__":
    main()
