"""`gym status ENDPOINT`: a running stack's rollouts, rewards, stage times and service health,
read from its `/metrics` and refreshed in place (`--once` prints one table and exits)."""

from __future__ import annotations

import argparse
import asyncio
import time

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from gym_core.cli.options import add_token_arguments, token_from_args
from gym_core.errors import ConfigError
from gym_core.stack_status import STAGES, StackStatus, read_stack

__all__ = ["add_arguments", "run"]

DEFAULT_INTERVAL_S = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("endpoint", help="the agent server's URL (what `gym serve` printed)")
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL_S,
        help=f"seconds between refreshes (default {DEFAULT_INTERVAL_S:g})",
    )
    parser.add_argument("--once", action="store_true", help="print the tables once and exit")
    add_token_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if args.interval <= 0:
        raise ConfigError(f"--interval must be above 0 (got {args.interval:g})")
    token = token_from_args(args)
    if args.once:
        Console().print(render(asyncio.run(read_stack(args.endpoint, token))))
        return 0
    return asyncio.run(_watch(args.endpoint, token, args.interval))


async def _watch(endpoint: str, token: str | None, interval_s: float) -> int:
    status = await read_stack(endpoint, token)
    read_at = time.monotonic()
    with Live(render(status), auto_refresh=False) as live:
        while True:
            await asyncio.sleep(interval_s)
            previous, previous_at = status, read_at
            status = await read_stack(endpoint, token)
            read_at = time.monotonic()
            live.update(render(status, previous, read_at - previous_at), refresh=True)


def render(
    status: StackStatus, previous: StackStatus | None = None, elapsed_s: float = 0.0
) -> Group:
    """The stack's tables; with a `previous` reading, the rollouts finished per second since."""
    before = {env.env: env.finished for env in previous.envs} if previous else {}
    rollouts = _table("rollouts", "env", "running", "queued", "completed", "truncated", "failed")
    rollouts.add_column("per s", justify="right")
    rollouts.add_column("reward", justify="right")
    stages = _table("mean ms per call", "env", *STAGES)
    failures = _table("failed rollouts", "env", "kind", "count")
    for env in status.envs:
        rate = (env.finished - before[env.env]) / elapsed_s if env.env in before else None
        rollouts.add_row(
            env.env,
            str(env.running),
            str(env.queued),
            *(str(env.statuses.get(name, 0)) for name in ("completed", "truncated", "failed")),
            _number(rate, ".1f"),
            _number(env.reward_mean, ".3f"),
        )
        stages.add_row(
            env.env,
            *(_number(_ms(env.stage_mean_s[stage]), ".1f") for stage in STAGES),
        )
        for kind, count in sorted(env.failures.items()):
            failures.add_row(env.env, kind, str(count))
    services = _table("services", "service", "url", "in flight", "loop lag ms", "restarts")
    services.columns[1].justify = "left"
    for service in status.services:
        services.add_row(
            service.name,
            service.url,
            str(service.in_flight) if service.up else "[red]down[/red]",
            f"{service.loop_lag_s * 1000:.1f}" if service.up else "",
            str(service.restarts) if service.up else "",
        )
    return Group(rollouts, stages, *([failures] if failures.rows else []), services)


def _table(title: str, first: str, *numbers: str) -> Table:
    """A compact table: a name column, then right-aligned numbers."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column(first, no_wrap=True)
    for column in numbers:
        table.add_column(column, justify="right")
    return table


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)
