"""The local launcher: each service of a plan as its own process on this machine.

The launcher binds every listening socket itself, so ports are known before anything starts
and no two services race for one. It imports the services' modules once and forks a process
per service, so a service starts in the time it takes to build its app rather than the time
it takes Python to import FastAPI again. Each service gets its own session and process
group: stopping the launcher stops every service and every worker a service started, and a
service dies with the launcher even when the launcher is killed.

Once every service is ready, `watch` restarts one that dies (`gym_core.launch.supervision`
decides when, and when to give up). The launcher keeps every listening socket open for as long
as it runs, so a restarted service answers on the same port, and a connection made while it
was down waits in the socket's backlog instead of being refused. A restarted service counts
its restarts in its `/metrics` (`rlgym_restarts_total`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gym_core.config import GymConfig
from gym_core.errors import ConfigError, GymError, ServiceError
from gym_core.http_client import HttpClient
from gym_core.imports import import_object
from gym_core.launch.plan import AGENT, POLICY, ServiceSpec, build_app, plan_services, service_names
from gym_core.launch.supervision import CrashLoop, Supervisor, describe_exit
from gym_core.metrics import ServiceMetrics
from gym_core.processes import die_with_parent, forget_parents_fork_server
from gym_core.service import LISTEN_BACKLOG, serve

__all__ = ["LaunchError", "LocalLauncher", "Running", "ServiceProcess", "start_service"]

STOP_GRACE_S = 8.0
HEALTH_POLL_S = 0.02


class LaunchError(GymError):
    """A service could not be started or stopped being ready."""


class ServiceProcess:
    """One service app in its own forked process, answering on a socket bound beforehand."""

    def __init__(self, name: str, pid: int, url: str) -> None:
        self.name = name
        self.pid = pid
        self.url = url
        self.started_at = time.monotonic()
        self._exit_code: int | None = None

    @classmethod
    def fork(
        cls,
        spec: ServiceSpec,
        sock: socket.socket,
        siblings: Iterable[socket.socket] = (),
        *,
        restarts: int = 0,
    ) -> ServiceProcess:
        """Fork a process that serves `spec` on `sock`, the `restarts`-th of its name. Call
        with no event loop running."""
        if _loop_running():
            raise LaunchError("start services before the event loop, not inside it")
        import_object(spec.app)  # imported here once, so the forked process already has it
        url = _url_of(sock)
        sys.stdout.flush()
        sys.stderr.flush()
        launcher_pid = os.getpid()
        pid = os.fork()
        if pid:
            return cls(spec.name, pid, url)
        _run_forked(spec, sock, siblings, launcher_pid, restarts)
        raise AssertionError("unreachable")  # pragma: no cover

    def exit_code(self) -> int | None:
        """The exit code once the process has ended, None while it runs."""
        if self._exit_code is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return -1
            if done == 0:
                return None
            self._exit_code = os.waitstatus_to_exitcode(status)
        return self._exit_code

    def signal_group(self, signum: int) -> None:
        """Signal the service and every process it started (its process group)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    async def wait_healthy(self, http: HttpClient, timeout_s: float) -> None:
        """Return once `/healthz` answers; raise if the process exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        while True:
            code = self.exit_code()
            if code is not None:
                raise LaunchError(
                    f"service {self.name!r} exited with code {code} before it was ready "
                    "(its message is above)"
                )
            try:
                await http.get(f"{self.url}/healthz")
                return
            except ServiceError:
                if time.monotonic() > deadline:
                    raise LaunchError(
                        f"service {self.name!r} did not answer {self.url}/healthz within "
                        f"{timeout_s:g}s"
                    ) from None
            await asyncio.sleep(HEALTH_POLL_S)


def stop_processes(processes: Iterable[ServiceProcess], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM every process group, SIGKILL what is left after the grace, reap them all."""
    processes = list(processes)
    for process in processes:
        process.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(p.exit_code() is None for p in processes):
        time.sleep(0.02)
    for process in processes:
        process.signal_group(signal.SIGKILL)  # workers a service left behind, if any
        if process.exit_code() is None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(process.pid, 0)


def start_service(
    app: str,
    settings: dict[str, Any],
    *,
    name: str = "service",
    host: str = "127.0.0.1",
    port: int = 0,
) -> ServiceProcess:
    """Fork one service outside any plan (a scripted engine for a test or a benchmark)."""
    sock = listen(host, port)
    try:
        return ServiceProcess.fork(ServiceSpec(name=name, app=app, settings=settings), sock)
    finally:
        sock.close()


@dataclass
class Running:
    """Services that answer: the rollout endpoint and every service's base URL."""

    endpoint: str
    urls: dict[str, str] = field(default_factory=dict)


class LocalLauncher:
    """Start the services for some environments as local processes; stop them all."""

    def __init__(self, config: GymConfig, env_names: list[str]) -> None:
        self.config = config
        self.env_names = env_names
        self.processes: list[ServiceProcess] = []
        self.supervisor = Supervisor(config.serve.restart)
        self._specs: dict[str, ServiceSpec] = {}
        self._sockets: dict[str, socket.socket] = {}
        self._restart_at: dict[str, float] = {}
        self._state_dir: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> Running:
        """Fork one process per service. Call with no event loop running in this thread."""
        self._sockets = self._bind_sockets()
        urls = {name: _url_of(sock) for name, sock in self._sockets.items()}
        try:
            for spec in plan_services(self.config, self.env_names, urls):
                if spec.name == POLICY and spec.settings.get("state_file") is None:
                    spec.settings["state_file"] = self._policy_state_file()
                self._specs[spec.name] = spec
                self.processes.append(self._fork(spec.name))
        except BaseException:
            self.stop()
            raise
        return Running(endpoint=urls[AGENT], urls=urls)

    async def wait_ready(self) -> None:
        """Return when every service answers `/healthz`; raise if one exits or time runs out."""
        timeout_s = self.config.serve.startup_timeout_s
        async with HttpClient(timeout_s=1.0, max_retries=0) as http:
            await asyncio.gather(*(p.wait_healthy(http, timeout_s) for p in self.processes))

    def watch(self) -> None:
        """Restart each service that died once its backoff has passed; raise `LaunchError`
        when one keeps dying, or when restarting is off. Call with no event loop running."""
        now = time.monotonic()
        for index, process in enumerate(self.processes):
            code = process.exit_code()
            if code is None:
                continue
            if process.name not in self._restart_at:
                self._restart_at[process.name] = now + self._backoff(process, code, now)
            if now >= self._restart_at[process.name]:
                del self._restart_at[process.name]
                process.signal_group(signal.SIGKILL)  # workers it left behind, if any
                self.processes[index] = self._fork(process.name)

    def stop(self) -> None:
        """Stop every service and everything it started; close the listening sockets."""
        stop_processes(self.processes)
        self.processes.clear()
        self._restart_at.clear()
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()
        if self._state_dir is not None:
            self._state_dir.cleanup()
            self._state_dir = None

    def _policy_state_file(self) -> Path:
        """Where the policy server keeps its version and pause, so that a restart of it
        takes them over (`policy_clients.gate`); removed when the stack stops."""
        self._state_dir = tempfile.TemporaryDirectory(prefix="rl-gym-stack-")
        return Path(self._state_dir.name) / "policy-state.json"

    def __enter__(self) -> LocalLauncher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _fork(self, name: str) -> ServiceProcess:
        restarts = self.supervisor.restarts(name)
        sockets = self._sockets
        return ServiceProcess.fork(
            self._specs[name], sockets[name], sockets.values(), restarts=restarts
        )

    def _backoff(self, process: ServiceProcess, code: int, now: float) -> float:
        """Seconds before `process` is started again; raise if it is not to be."""
        if not self.config.serve.restart.enabled:
            raise LaunchError(
                f"service {process.name!r} {describe_exit(code)}; stopping the others "
                "(serve.restart.enabled is off)"
            )
        try:
            delay = self.supervisor.died(process.name, code, now - process.started_at)
        except CrashLoop as error:
            raise LaunchError(str(error)) from None
        restart = self.supervisor.restarts(process.name)
        print(
            f"gym serve: service {process.name!r} {describe_exit(code)}; restarting it in "
            f"{delay:g}s (restart {restart})",
            file=sys.stderr,
            flush=True,
        )
        return delay

    def _bind_sockets(self) -> dict[str, socket.socket]:
        options = self.config.serve
        sockets: dict[str, socket.socket] = {}
        try:
            for name in service_names(self.env_names):
                public = name == AGENT
                sockets[name] = listen(
                    options.host if public else "127.0.0.1", options.port if public else 0
                )
        except BaseException:
            for sock in sockets.values():
                sock.close()
            raise
        return sockets


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket; a `ConfigError` naming the address when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        hint = " (pass another --port, or 0 for a free one)" if port else ""
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror}{hint}") from None
    sock.listen(LISTEN_BACKLOG)
    return sock


def _url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _run_forked(
    spec: ServiceSpec,
    sock: socket.socket,
    siblings: Iterable[socket.socket],
    launcher_pid: int,
    restarts: int,
) -> None:
    """The forked process: its own session, its own socket only, then the service."""
    code = 1
    try:
        os.setsid()
        die_with_parent(launcher_pid)
        forget_parents_fork_server()
        for other in siblings:
            if other is not sock:
                other.close()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        app = build_app(spec)
        metrics = getattr(getattr(app, "state", None), "metrics", None)
        if isinstance(metrics, ServiceMetrics):
            metrics.restarts.inc(restarts)
        serve(app, [sock])
        code = 0
    except ConfigError as error:
        print(f"gym: {spec.name}: {error}", file=sys.stderr)
        code = 2
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
