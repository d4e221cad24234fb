"""Shared fixtures: real services on loopback ports, started the way `gym serve` starts them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from gym_core.catalog import default_catalog_path
from gym_core.config import GymConfig, load_config
from gym_core.http_client import HttpClient
from gym_core.launch.local import (
    LocalLauncher,
    Running,
    ServiceProcess,
    start_service,
    stop_processes,
)
from gym_core.settings import ResourcesServerSettings

ECHO_ENVS: dict[str, Any] = {
    name: {
        "version": "0.0.1",
        "description": "test fixture",
        "domain": "test",
        "license": "Apache-2.0",
        "server": server,
        "agent": {"max_turns": 4},
        "datasets": {"example": "echo.jsonl"},
    }
    for name, server in {
        "echo": "tests.fixtures.echo_env:EchoServer",
        "dialog": "tests.fixtures.echo_env:EchoDialogServer",
    }.items()
}


def wait_healthy(*processes: ServiceProcess, timeout_s: float = 60) -> None:
    async def wait() -> None:
        async with HttpClient(timeout_s=1.0, max_retries=0) as http:
            for process in processes:
                await process.wait_healthy(http, timeout_s)

    asyncio.run(wait())


@contextlib.contextmanager
def scripted_engine(rules: list[dict[str, Any]], **settings: Any) -> Iterator[str]:
    """A scripted OpenAI-compatible engine on a loopback port; yields its URL."""
    process = start_service(
        "policy_clients.scripted:create_app", {"rules": rules, **settings}, name="scripted"
    )
    try:
        wait_healthy(process)
        yield process.url
    finally:
        stop_processes([process])


@contextlib.contextmanager
def resources_server(settings: ResourcesServerSettings) -> Iterator[str]:
    """One environment's resources server on a loopback port; yields its URL."""
    process = start_service(
        "resources_server.app:create_app", settings.model_dump(), name=settings.name
    )
    try:
        wait_healthy(process)
        yield process.url
    finally:
        stop_processes([process])


def make_config(policy_urls: list[str], **overrides: Any) -> GymConfig:
    layer: dict[str, Any] = {
        "envs": ECHO_ENVS,
        "policy": {"engine_urls": policy_urls},
        "serve": {"port": 0},
        "resources": {"cpu_workers": 1},
    }
    for key, value in overrides.items():
        layer.setdefault(key, {}).update(value)
    return load_config(default_catalog_path(), None, layer)


@contextlib.contextmanager
def gym_stack(envs: list[str], policy_urls: list[str], **overrides: Any) -> Iterator[Running]:
    """`gym serve ENVS` with the echo fixtures in the catalog; yields the running services."""
    launcher = LocalLauncher(make_config(policy_urls, **overrides), envs)
    try:
        running = launcher.start()
        asyncio.run(launcher.wait_ready())
        yield running
    finally:
        launcher.stop()
