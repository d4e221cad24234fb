"""`gym serve math,code`: start the services and print the rollout endpoint."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import signal
import threading
import time
from typing import TYPE_CHECKING

from gym_core.cli.options import add_service_arguments, install_published, load_cli_config
from gym_core.config import DEFAULT_PORT, GymConfig, select_envs, unknown_name_message
from gym_core.errors import ConfigError
from gym_core.imports import gc_paused
from gym_core.launch.plan import AGENT, POLICY
from gym_core.redaction import redact_url

if TYPE_CHECKING:
    from gym_core.launch.local import LocalLauncher, Running
    from gym_core.launch.ray_cluster import RayLauncher

    Launcher = LocalLauncher | RayLauncher

__all__ = ["add_arguments", "apply_replicas", "run"]

WATCH_INTERVAL_S = 0.5
NAME_WIDTH = 16


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "envs", metavar="ENVS", help="environments to serve, e.g. math,code; `all`: every built-in"
    )
    parser.add_argument("--host", help="address of the rollout endpoint (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, help=f"port of the rollout endpoint (default {DEFAULT_PORT}; 0: free)"
    )
    parser.add_argument(
        "--lock-admin",
        action="store_true",
        help="the policy's admin routes (version, pause, resume) need the token even on "
        "loopback, and answer 403 without one (on by default when --host is not loopback)",
    )
    add_service_arguments(parser)
    cluster = parser.add_argument_group("cluster")
    cluster.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the services as Ray Serve deployments on a Ray cluster: `auto` (the cluster "
        "this node joined), `local` (a new one-node cluster), or a Ray address",
    )
    cluster.add_argument(
        "--replicas",
        action="append",
        metavar="NAME=N",
        help="with --cluster: N replicas of an environment (or of `agent`), overriding its "
        "catalog entry's `cluster` section; repeat or separate with commas",
    )


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    lock = {"lock_admin": True} if args.lock_admin else {}
    config = load_cli_config(args, host=args.host, port=args.port, **lock)
    envs = select_envs(config, args.envs)
    if args.replicas and args.cluster is None:
        raise ConfigError("--replicas: replicas run on a cluster; add --cluster ADDRESS")
    apply_replicas(config, envs, args.replicas or [])
    install_published(config, envs, args)
    with gc_paused():
        launcher = _launcher(config, envs, args.cluster)
    try:
        with gc_paused():  # the services are forked with what the launcher imported
            running = launcher.start()
        stop = _stop_on_signals()  # after Ray's own handlers, which `ray.init` installs
        asyncio.run(launcher.wait_ready())
        _print_banner(running, envs, started)
        # Off the request path: one `waitpid` per service every interval (local), or one look
        # at Serve's status (cluster).
        while not stop.wait(WATCH_INTERVAL_S):
            launcher.watch()
        print("stopping", flush=True)
        return 0
    finally:
        launcher.stop()


def apply_replicas(config: GymConfig, envs: list[str], values: list[str]) -> None:
    """`--replicas code=8,agent=2`: a fixed replica count for each service named."""
    for item in (part.strip() for value in values for part in value.split(",")):
        name, sep, count = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--replicas: expected NAME=N, got {item!r}")
        try:
            replicas = int(count)
        except ValueError:
            replicas = 0
        if replicas < 1:
            raise ConfigError(f"--replicas {item}: N must be a whole number of at least 1")
        if name == POLICY:
            raise ConfigError(
                f"--replicas {item}: the policy server runs one replica (it keeps the policy "
                "version and the episodes' engines in its process); add engines with "
                "--policy-url instead"
            )
        fixed = {"replicas": replicas, "min_replicas": None, "max_replicas": None}
        if name == AGENT:
            config.cluster.agent = config.cluster.agent.model_copy(update=fixed)
        elif name in envs:
            entry = config.envs[name]
            entry.cluster = entry.cluster.model_copy(update=fixed)
        else:
            message = unknown_name_message("service", name, [*envs, AGENT])
            raise ConfigError(f"--replicas {item}: {message}")


def _launcher(config: GymConfig, envs: list[str], cluster: str | None) -> Launcher:
    """The local launcher, or the Ray one with --cluster; nothing else knows which runs."""
    if cluster is None:
        from gym_core.launch.local import LocalLauncher  # imports the services: only now

        return LocalLauncher(config, envs)
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(
            "--cluster needs Ray, which is not installed: `pip install 'rl-gym[cluster]'`"
            " (or `uv sync --extra cluster` in a checkout)"
        )
    from gym_core.launch.ray_cluster import RayLauncher  # imports ray: only now

    return RayLauncher(config, envs, cluster)


def _stop_on_signals() -> threading.Event:
    """An event SIGINT or SIGTERM sets. The watch loop runs with no event loop, so that the
    local launcher can fork a service again from it."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _print_banner(running: Running, envs: list[str], started: float) -> None:
    endpoint = redact_url(running.endpoint)
    services = "\n".join(
        f"    {name:<{NAME_WIDTH}} {redact_url(url)}" for name, url in running.urls.items()
    )
    print(
        f"RL Gym is serving {', '.join(envs)} (ready in {time.perf_counter() - started:.1f}s)\n"
        f"  rollout endpoint: {endpoint}/v1/rollouts\n"
        f"  environments:     {endpoint}/v1/envs\n"
        f"  policy control:   {endpoint}/v1/policy (version, pause, resume)\n"
        f"  services:\n{services}\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
