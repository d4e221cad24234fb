"""The local launcher: each service of a plan as its own process on this machine.

The launcher binds every listening socket itself, so ports are known before anything starts
and no two services race for one. It imports the services' modules once and forks a process
per service, so a service starts in the time it takes to build its app rather than the time
it takes Python to import FastAPI again. Each service gets its own session and process
group: stopping the launcher stops every service and every worker a service started, and a
service dies with the launcher even when the launcher is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gym_core.config import GymConfig
from gym_core.errors import ConfigError, GymError, ServiceError
from gym_core.http_client import HttpClient
from gym_core.imports import import_object
from gym_core.launch.plan import AGENT, ServiceSpec, build_app, plan_services, service_names
from gym_core.processes import die_with_parent, forget_parents_fork_server
from gym_core.service import serve

__all__ = ["LaunchError", "LocalLauncher", "Running", "ServiceProcess", "start_service"]

STOP_GRACE_S = 8.0
LISTEN_BACKLOG = 2048
HEALTH_POLL_S = 0.02


class LaunchError(GymError):
    """A service could not be started or stopped being ready."""


class ServiceProcess:
    """One service app in its own forked process, answering on a socket bound beforehand."""

    def __init__(self, name: str, pid: int, url: str) -> None:
        self.name = name
        self.pid = pid
        self.url = url
        self._exit_code: int | None = None

    @classmethod
    def fork(
        cls, spec: ServiceSpec, sock: socket.socket, siblings: Iterable[socket.socket] = ()
    ) -> ServiceProcess:
        """Fork a process that serves `spec` on `sock`. Call with no event loop running."""
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
        _run_forked(spec, sock, siblings, launcher_pid)
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

    def start(self) -> Running:
        """Fork one process per service. Call with no event loop running in this thread."""
        sockets = self._bind_sockets()
        urls = {name: _url_of(sock) for name, sock in sockets.items()}
        try:
            for spec in plan_services(self.config, self.env_names, urls):
                self.processes.append(
                    ServiceProcess.fork(spec, sockets[spec.name], sockets.values())
                )
        except BaseException:
            self.stop()
            raise
        finally:
            for sock in sockets.values():
                sock.close()
        return Running(endpoint=urls[AGENT], urls=urls)

    async def wait_ready(self) -> None:
        """Return when every service answers `/healthz`; raise if one exits or time runs out."""
        timeout_s = self.config.serve.startup_timeout_s
        async with HttpClient(timeout_s=1.0, max_retries=0) as http:
            await asyncio.gather(*(p.wait_healthy(http, timeout_s) for p in self.processes))

    def exited(self) -> dict[str, int]:
        """Services that have exited since they started, with their exit codes."""
        codes = {process.name: process.exit_code() for process in self.processes}
        return {name: code for name, code in codes.items() if code is not None}

    def stop(self) -> None:
        """Stop every service and everything it started."""
        stop_processes(self.processes)
        self.processes.clear()

    def __enter__(self) -> LocalLauncher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

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
    spec: ServiceSpec, sock: socket.socket, siblings: Iterable[socket.socket], launcher_pid: int
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
        serve(build_app(spec), [sock])
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
