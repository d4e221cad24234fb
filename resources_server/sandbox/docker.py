"""The docker backend: each run in a fresh container, with the same limits, for machines where
an engine is at hand and bubblewrap is not.

The container has no network, a read-only root, no capabilities, no new privileges, user
`nobody`, a pids limit, a memory limit (the engine's OOM killer, reported as out of memory), a
CPU quota and rlimits for CPU time, file size and open files. Its working directory `/work`
(and `/tmp`) is a tmpfs of `disk_mb`: a program that writes more gets "No space left on
device". The engine must run on this host: the run's files are staged in a private host
directory, mounted read-only and copied into `/work` as the container starts, and stdin,
stdout and stderr are files in a second one (so output never piles up in the engine's log).
Calls to the engine block, so they run in threads.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from resources_server.sandbox.api import (
    WORKDIR,
    Limits,
    RunResult,
    Sandbox,
    SandboxError,
    decode,
    out_of_memory,
)
from resources_server.sandbox.rlimits import CPU_SIGNALS, MB

__all__ = ["DEFAULT_IMAGE", "DockerSandbox", "connect"]

DEFAULT_IMAGE = "python:3.11-slim"
CONNECT_TIMEOUT_S = 10
API_VERSION = "1.41"
"""Docker Engine 20.10 or newer; naming it spares a version query on connecting."""
DEFAULT_HOST = "unix:///var/run/docker.sock"
IO_DIR = "/io"
STAGE_DIR = "/stage"
_START = (
    f"cp -R {STAGE_DIR}/. {WORKDIR}/ 2>{IO_DIR}/stderr && "
    f'exec "$@" <{IO_DIR}/stdin >{IO_DIR}/stdout 2>{IO_DIR}/stderr'
)


class DockerSandbox(Sandbox):
    name = "docker"
    python = "python3"

    def __init__(self, limits: Limits, max_concurrency: int, *, image: str = DEFAULT_IMAGE):
        super().__init__(limits, max_concurrency)
        try:
            import docker  # noqa: F401
        except ImportError:
            raise SandboxError(
                "the docker backend needs the Docker SDK: pip install 'rl-gym[docker]'"
            ) from None
        self.image = image
        self._client: Any = None

    async def _execute(
        self, argv: list[str], files: dict[str, bytes], stdin: bytes, limits: Limits, slot: int
    ) -> RunResult:
        if self._client is None:
            self._client = await asyncio.to_thread(connect)
        return await asyncio.to_thread(self._run_container, argv, files, stdin, limits)

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _run_container(
        self, argv: list[str], files: dict[str, bytes], stdin: bytes, limits: Limits
    ) -> RunResult:
        from docker.errors import DockerException, ImageNotFound

        staging = Path(tempfile.mkdtemp(prefix="rlgym-docker-"))
        try:
            work, io = _stage(staging, files, stdin)
            try:
                container = self._client.containers.create(
                    self.image,
                    ["/bin/sh", "-c", _START, "sh", *argv],
                    **_container_options(limits, work, io),
                )
            except ImageNotFound:
                raise SandboxError(
                    f"the image {self.image!r} is not present: docker pull {self.image}"
                ) from None
            except DockerException as error:
                raise SandboxError(f"the Docker engine refused the container: {error}") from None
            try:
                return self._wait(container, io, limits)
            finally:
                container.remove(force=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _wait(self, container: Any, io: Path, limits: Limits) -> RunResult:
        from requests.exceptions import ConnectionError, ReadTimeout

        started = time.monotonic()
        container.start()
        exit_code: int | None
        try:
            exit_code = int(container.wait(timeout=limits.wall_time_s)["StatusCode"])
        except (ReadTimeout, ConnectionError):
            container.kill()
            exit_code = None
        wall_time_s = time.monotonic() - started
        container.reload()
        oom_killed = bool(container.attrs["State"].get("OOMKilled"))
        stdout, stdout_cut = _read_capped(io / "stdout", limits.output_bytes)
        stderr, stderr_cut = _read_capped(io / "stderr", limits.output_bytes)
        return RunResult(
            stdout=stdout,
            stderr=stderr,
            exit_code=exit_code,
            wall_time_s=wall_time_s,
            timed_out=exit_code is None or (exit_code in CPU_SIGNALS and not oom_killed),
            wall_clock_stopped=exit_code is None,
            out_of_memory=oom_killed or out_of_memory(exit_code, stderr),
            output_truncated=stdout_cut or stderr_cut,
        )


def connect() -> Any:
    """A client of the engine the environment names (DOCKER_HOST, or the local socket).

    Raises:
        SandboxError: no engine answers.
    """
    import docker
    from docker.errors import DockerException
    from requests.exceptions import RequestException

    host = os.environ.get("DOCKER_HOST", DEFAULT_HOST)
    if host.startswith("unix://"):
        _probe_socket(host.removeprefix("unix://"))
    try:
        client = docker.from_env(version=API_VERSION, timeout=CONNECT_TIMEOUT_S)
    except DockerException as error:
        raise SandboxError(f"cannot reach a Docker engine: {error}") from None
    try:
        client.ping()
    except (DockerException, RequestException) as error:
        client.close()
        raise SandboxError(f"cannot reach a Docker engine: {error}") from None
    return client


def _probe_socket(path: str) -> None:
    """Raise unless an engine listens on the socket at `path`: asked first by hand, because
    the SDK's client leaks its socket when the engine refuses it."""
    if not Path(path).exists():
        raise SandboxError(
            f"cannot reach a Docker engine: there is no socket {path} "
            "(is the engine running? DOCKER_HOST names another one)"
        )
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(CONNECT_TIMEOUT_S)
        try:
            probe.connect(path)
        except OSError as error:
            raise SandboxError(
                f"cannot reach a Docker engine at {path}: {error.strerror or error} "
                "(is the engine running?)"
            ) from None


def _stage(staging: Path, files: dict[str, bytes], stdin: bytes) -> tuple[Path, Path]:
    """The directories of the run's files and of its io, open to the container's user."""
    work, io = staging / "files", staging / "io"
    work.mkdir()
    io.mkdir()
    for name, data in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (io / "stdin").write_bytes(stdin)
    for directory in (staging, work, io, *(p for p in work.rglob("*") if p.is_dir())):
        os.chmod(directory, 0o777)
    return work, io


def _container_options(limits: Limits, work: Path, io: Path) -> dict[str, Any]:
    from docker.types import Ulimit

    disk = f"{limits.disk_mb}m"
    return {
        "user": "65534:65534",
        "working_dir": WORKDIR,
        "environment": {"HOME": WORKDIR, "TMPDIR": WORKDIR, "LANG": "C.UTF-8"},
        "network_disabled": True,
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": limits.processes,
        "mem_limit": f"{limits.memory_mb}m",
        "memswap_limit": f"{limits.memory_mb}m",
        "nano_cpus": round(limits.cpus * 1e9),
        "shm_size": disk,
        "tmpfs": {
            WORKDIR: f"size={disk},mode=0755,uid=65534,gid=65534,exec",
            "/tmp": f"size={disk},mode=1777",
        },
        "ulimits": [
            Ulimit(name="cpu", soft=limits.cpu_time_s, hard=limits.cpu_time_s),
            Ulimit(name="fsize", soft=limits.file_size_mb * MB, hard=limits.file_size_mb * MB),
            Ulimit(name="nofile", soft=limits.open_files, hard=limits.open_files),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "volumes": {
            str(work): {"bind": STAGE_DIR, "mode": "ro"},
            str(io): {"bind": IO_DIR, "mode": "rw"},
        },
    }


def _read_capped(path: Path, limit: int) -> tuple[str, bool]:
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except FileNotFoundError:
        return "", False
    return decode(data[:limit]), len(data) > limit
