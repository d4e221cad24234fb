"""The sandbox's settings, as an environment declares them in `rl_hub.yaml`, and the factory
that turns them into a backend."""

from __future__ import annotations

import os
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from resources_server.sandbox.api import Limits, Sandbox
from resources_server.sandbox.bubblewrap import DEFAULT_FIRST_UID, BubblewrapSandbox
from resources_server.sandbox.docker import DEFAULT_IMAGE, DockerSandbox
from resources_server.sandbox.unsandboxed import UnsandboxedRunner

__all__ = ["SandboxSettings", "create_sandbox"]

Backend = Literal["bubblewrap", "docker", "unsandboxed"]


def default_concurrency() -> int:
    return os.cpu_count() or 1


class SandboxSettings(BaseModel):
    """How untrusted code runs."""

    model_config = ConfigDict(extra="forbid")

    backend: Backend = "bubblewrap"
    """`bubblewrap`: namespaces plus rlimits (the default). `docker`: a container per run
    (needs `rl-gym[docker]` and an engine on this host). `unsandboxed`: NO ISOLATION, only
    rlimits; for development alone, and warned about loudly."""
    limits: Limits = Field(default_factory=Limits)
    max_concurrency: Annotated[int, Field(ge=1)] = Field(default_factory=default_concurrency)
    """Runs under way at once; more wait their turn. Default: one per CPU."""
    python: str | None = None
    """The interpreter (bubblewrap, unsandboxed): default this server's base Python, or a
    system one when the sandbox's user cannot reach that."""
    docker_image: str = DEFAULT_IMAGE
    """The image each docker run starts from; it must have `python3` and `/bin/sh`."""
    first_uid: Annotated[int, Field(ge=1)] = DEFAULT_FIRST_UID
    """bubblewrap under root: runs use host uids `first_uid` .. `first_uid +
    max_concurrency - 1`, which no account or other service may use."""
    cgroups: bool = True
    """bubblewrap, unsandboxed: give each run a cgroup of its own where the machine offers one
    (cgroup v2 delegated to this service, or v1 under root), bounding the memory, processes
    and CPU of all its processes together; without one, only per-process rlimits bound it."""


def create_sandbox(settings: SandboxSettings) -> Sandbox:
    """The backend the settings name. Raises `SandboxError` when it cannot work here."""
    if settings.backend == "docker":
        return DockerSandbox(settings.limits, settings.max_concurrency, image=settings.docker_image)
    if settings.backend == "unsandboxed":
        return UnsandboxedRunner(
            settings.limits,
            settings.max_concurrency,
            python=settings.python,
            cgroups=settings.cgroups,
        )
    return BubblewrapSandbox(
        settings.limits,
        settings.max_concurrency,
        python=settings.python,
        first_uid=settings.first_uid,
        cgroups=settings.cgroups,
    )
