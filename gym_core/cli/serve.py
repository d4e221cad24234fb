"""`gym serve math,code`: start the services and print the rollout endpoint."""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from typing import TYPE_CHECKING

from gym_core.cli.options import add_service_arguments, install_published, load_cli_config
from gym_core.config import DEFAULT_PORT, select_envs

if TYPE_CHECKING:
    from gym_core.launch.local import LocalLauncher

__all__ = ["add_arguments", "run"]

WATCH_INTERVAL_S = 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("envs", metavar="ENVS", help="environments to serve, e.g. math,code")
    parser.add_argument("--host", help="address of the rollout endpoint (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, help=f"port of the rollout endpoint (default {DEFAULT_PORT}; 0: free)"
    )
    add_service_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from gym_core.launch.local import LocalLauncher  # imports the services: only when serving

    started = time.perf_counter()
    config = load_cli_config(args, host=args.host, port=args.port)
    envs = select_envs(config, args.envs)
    install_published(config, envs)
    launcher = LocalLauncher(config, envs)
    running = launcher.start()
    try:
        return asyncio.run(_serve(launcher, running.endpoint, envs, started))
    finally:
        launcher.stop()


async def _serve(launcher: LocalLauncher, endpoint: str, envs: list[str], started: float) -> int:
    from gym_core.launch.local import LaunchError

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await launcher.wait_ready()
    print(
        f"RL Gym is serving {', '.join(envs)} (ready in {time.perf_counter() - started:.1f}s)\n"
        f"  rollout endpoint: {endpoint}/v1/rollouts\n"
        f"  environments:     {endpoint}/v1/envs\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    while not stop.is_set():
        exited = launcher.exited()
        if exited:
            name, code = next(iter(exited.items()))
            raise LaunchError(f"service {name!r} exited with code {code}; stopping the others")
        try:
            await asyncio.wait_for(stop.wait(), WATCH_INTERVAL_S)
        except TimeoutError:
            continue
    print("stopping", flush=True)
    return 0
