"""`gym rollout math --out results.jsonl`: collect rollouts, resumably, and report their metrics."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gym_core.cli.options import add_service_arguments, install_published, load_cli_config
from gym_core.collect import Collection, collect
from gym_core.config import GymConfig, select_envs, unknown_name_message
from gym_core.errors import ConfigError
from gym_core.protocol import RolloutResult, SamplingParams, Task
from gym_core.rollout_client import AsyncRolloutClient
from gym_core.rollout_stats import PASS_REWARD, RolloutStats, summarize, summarize_by_env
from gym_core.tasks_file import load_tasks

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source",
        metavar="ENV_OR_FILE",
        help="an environment (its bundled example tasks) or a JSONL file of tasks",
    )
    parser.add_argument("--out", type=Path, required=True, help="JSONL file the results go to")
    parser.add_argument("--env", help="environment for rows of the file that name none")
    parser.add_argument("--limit", type=int, help="only the first N tasks")
    parser.add_argument("--samples", type=int, default=1, help="samples per task (a group)")
    parser.add_argument("--concurrency", type=int, default=32, help="rollouts at once")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted --out")
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="with --resume: run the failed samples again; each new result replaces its row",
    )
    parser.add_argument("--endpoint", help="use a running `gym serve` instead of starting one")
    parser.add_argument("--temperature", type=float, help="sampling temperature")
    parser.add_argument("--max-tokens", type=int, help="completion token limit per turn")
    add_service_arguments(parser)


def run(args: argparse.Namespace) -> int:
    for flag in ("limit", "samples", "concurrency", "max_tokens"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ConfigError(f"--{flag.replace('_', '-')} must be at least 1 (got {value})")
    if args.retry_failed and not args.resume:
        raise ConfigError("--retry-failed: it retries the failed rows of a file; add --resume")
    config = load_cli_config(args, port=0)
    if args.source in config.envs:
        install_published(config, [args.source], args)  # its example tasks ship in the package
    tasks = _tasks(args, config)
    if not tasks:
        raise ConfigError(f"{args.source}: no tasks")
    sampling = SamplingParams(temperature=args.temperature, max_tokens=args.max_tokens)
    if args.endpoint:
        collection = asyncio.run(_collect(args, tasks, sampling, args.endpoint, config))
    else:
        from gym_core.launch.local import LocalLauncher  # imports the services

        envs = select_envs(config, sorted({task.env for task in tasks}))
        install_published(config, envs, args)
        with LocalLauncher(config, envs) as launcher:
            running = launcher.start()
            collection = asyncio.run(
                _collect(args, tasks, sampling, running.endpoint, config, launcher=launcher)
            )
    _report(collection, args)
    return 0


def _tasks(args: argparse.Namespace, config: GymConfig) -> list[Task]:
    path = Path(args.source)
    if path.is_file():
        return load_tasks(path, env=args.env, limit=args.limit)
    if args.source not in config.envs:
        raise ConfigError(
            f"{args.source!r} is neither a file nor an environment. "
            + unknown_name_message("environment", args.source, list(config.envs))
        )
    return load_tasks(config.envs[args.source].example_path(), env=args.source, limit=args.limit)


async def _collect(
    args: argparse.Namespace,
    tasks: list[Task],
    sampling: SamplingParams,
    endpoint: str,
    config: GymConfig,
    launcher: Any = None,
) -> Collection:
    if launcher is not None:
        await launcher.wait_ready()
    with ProgressBar() as progress:
        async with AsyncRolloutClient(endpoint, token=config.serve.token) as client:
            return await collect(
                client,
                tasks,
                args.out,
                samples=args.samples,
                concurrency=args.concurrency,
                resume=args.resume,
                retry_failed=args.retry_failed,
                sampling=sampling,
                progress=progress,
            )


class ProgressBar:
    """Rollouts done out of planned, and the mean reward so far, on stderr."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("rollouts"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=Console(stderr=True),
        )
        self._task = self._bar.add_task("rollouts", total=None, note="")
        self._rewards: list[float] = []

    def start(self, total: int) -> None:
        self._bar.update(self._task, total=total)

    def advance(self, result: RolloutResult) -> None:
        if result.reward is not None:
            self._rewards.append(result.reward)
        mean = sum(self._rewards) / len(self._rewards) if self._rewards else None
        note = "" if mean is None else f"mean reward {mean:.3f}"
        self._bar.update(self._task, advance=1, note=note)

    def __enter__(self) -> ProgressBar:
        self._bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bar.stop()


def _report(collection: Collection, args: argparse.Namespace) -> None:
    stats = summarize(collection.results)
    table = Table(title=f"{args.out}: {stats.rollouts} rollouts of {stats.tasks} tasks")
    table.add_column("metric")
    table.add_column("value", justify="right")
    mean = "n/a" if stats.mean_reward is None else f"{stats.mean_reward:.4f}"
    table.add_row("mean reward (scored rollouts)", mean)
    for k, rate in stats.pass_at_k.items():
        table.add_row(f"pass@{k} (reward >= {PASS_REWARD:g}, scored)", f"{rate:.4f}")
    if stats.unscored_tasks:
        table.add_row("tasks with no scored rollout", str(stats.unscored_tasks))
    for status, count in sorted(stats.statuses.items()):
        table.add_row(f"status {status}", str(count))
    for kind, count in sorted(stats.failures.items()):
        table.add_row(f"failed: {kind}", str(count))
    table.add_row("new rollouts this run", str(collection.new))
    table.add_row("rollouts per second", f"{collection.rollouts_per_second:.3g}")
    console = Console()
    console.print(table)
    by_env = summarize_by_env(collection.results)
    if len(by_env) > 1:
        console.print(_env_table(by_env))
    for reason in collection.rejected:
        console.print(f"[red]rejected[/red] {reason}")


def _env_table(by_env: dict[str, RolloutStats]) -> Table:
    """One row per environment of a mixed collection."""
    table = Table(title="by environment")
    for column in ("env", "rollouts", "tasks", "mean reward", "pass@1", "failed"):
        table.add_column(column, justify="left" if column == "env" else "right")
    for env, stats in by_env.items():
        mean = "n/a" if stats.mean_reward is None else f"{stats.mean_reward:.4f}"
        pass_1 = stats.pass_at_k.get(1)
        table.add_row(
            env,
            str(stats.rollouts),
            str(stats.tasks),
            mean,
            "n/a" if pass_1 is None else f"{pass_1:.4f}",
            str(sum(stats.failures.values())),
        )
    return table
