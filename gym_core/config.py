"""One typed configuration for `gym serve` and `gym rollout`, layered from its sources.

The catalog (`rl_hub.yaml`) comes first, then the environments of hubs and installed packages
(`gym_core.hub.sources`), then the user's YAML file (`--config`), then the command line's
flags; a later source replaces what an earlier one set, key by key. The result
is checked as a whole before anything starts, and an error names the source and the key.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, ValidationError, model_validator

from gym_core.catalog import EnvEntry, Services, default_catalog_path, load_catalog, load_yaml
from gym_core.errors import ConfigError, format_problem
from gym_core.settings import (
    AgentServerOptions,
    PolicyServerSettings,
    ReplicaSettings,
    ResourcesOptions,
    RestartPolicy,
    Settings,
    Token,
)

if TYPE_CHECKING:
    from gym_core.hub.sources import EnvSource

__all__ = [
    "ALL_ENVS",
    "DEFAULT_PORT",
    "ClusterOptions",
    "GymConfig",
    "ServeOptions",
    "deep_merge",
    "load_config",
    "select_envs",
]

DEFAULT_PORT = 8700
ALL_ENVS = "all"
"""The name that selects every built-in environment (`gym serve all`)."""
DEFAULT_STARTUP_TIMEOUT_S = 120.0


class ServeOptions(Settings):
    """Where the rollout endpoint listens (section `serve`)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = DEFAULT_PORT
    """0 picks a free port."""
    token: Token | None = None
    """Bearer token every service requires; needed when `host` is not loopback. At least 8
    characters, no whitespace (a blank token would guard nothing)."""
    lock_admin: bool | None = None
    """The policy's admin routes (version, pause, resume) refuse every caller without the
    token, and answer 403 when no token is set. Default: on when `host` is not loopback."""
    startup_timeout_s: Annotated[float, Field(gt=0)] = DEFAULT_STARTUP_TIMEOUT_S
    restart: RestartPolicy = Field(default_factory=RestartPolicy)

    @model_validator(mode="after")
    def _token_off_loopback(self) -> ServeOptions:
        if not _is_loopback(self.host) and not self.token:
            raise ValueError(
                f"host {self.host!r} is reachable from other machines: set serve.token "
                "(--token-file FILE or $RL_GYM_TOKEN) so that only your trainer can use the "
                "services"
            )
        return self

    @property
    def admin_locked(self) -> bool:
        """Whether the admin routes are locked (`lock_admin`, or its default for `host`)."""
        return not _is_loopback(self.host) if self.lock_admin is None else self.lock_admin


class ClusterOptions(Settings):
    """How the agent and policy servers run on a cluster (section `cluster`). Each
    environment's replicas are set in its catalog entry, `envs.NAME.cluster`."""

    agent: ReplicaSettings = Field(default_factory=ReplicaSettings)
    """The agent server holds nothing between requests: any number of replicas works."""
    policy_num_cpus: Annotated[float, Field(ge=0)] = 1.0
    """CPUs reserved for the policy server. It runs one replica, because it keeps the policy
    version, the pause gate and the episodes' sticky engines in its process; it scales
    through the engines behind it (`policy.engine_urls`)."""


class GymConfig(Settings):
    services: Services
    envs: dict[str, EnvEntry]
    serve: ServeOptions = Field(default_factory=ServeOptions)
    policy: PolicyServerSettings = Field(default_factory=PolicyServerSettings)
    agent_server: AgentServerOptions = Field(default_factory=AgentServerOptions)
    resources: ResourcesOptions = Field(default_factory=ResourcesOptions)
    cluster: ClusterOptions = Field(default_factory=ClusterOptions)


def load_config(
    catalog_path: Path,
    user_path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    sources: Sequence[EnvSource] = (),
) -> GymConfig:
    """The configuration from the catalog, the other sources' environments, the user's file
    and the flags, checked."""
    layers = [(str(catalog_path), load_yaml(catalog_path))]
    layers += [(str(source.path), {"envs": source.envs}) for source in sources]
    if user_path is not None:
        layers.append((str(user_path), load_yaml(user_path)))
    if overrides:
        layers.append(("command line", overrides))
    merged: dict[str, Any] = {}
    for _, data in layers:
        merged = deep_merge(merged, data)
    try:
        return GymConfig.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(_attribute_errors(error, layers)) from None


def select_envs(config: GymConfig, names: str | list[str]) -> list[str]:
    """Check environment names against the catalog; `math,code` or a list. `all` stands for
    every built-in environment (those of `rl_hub.yaml`), in the catalog's order."""
    wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    wanted = [name for name in wanted if name]
    if ALL_ENVS in wanted and ALL_ENVS not in config.envs:
        position = wanted.index(ALL_ENVS)
        wanted[position : position + 1] = list(load_catalog(default_catalog_path()).envs)
    if not wanted:
        raise ConfigError("name at least one environment, e.g. `gym serve math`")
    for name in wanted:
        if name not in config.envs:
            raise ConfigError(unknown_name_message("environment", name, list(config.envs)))
    return list(dict.fromkeys(wanted))


def unknown_name_message(what: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}.{hint} Known: {', '.join(sorted(known)) or 'none'}."


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _attribute_errors(error: ValidationError, layers: list[tuple[str, dict[str, Any]]]) -> str:
    """Name, for each problem, the last source that set the key (or the catalog)."""
    lines = []
    for problem in error.errors():
        source = next(
            (name for name, data in reversed(layers) if _sets_path(data, problem["loc"])),
            layers[0][0],
        )
        lines.append(format_problem(source, problem))
    return "\n".join(lines)


def _sets_path(data: Any, loc: tuple[int | str, ...]) -> bool:
    for part in loc:
        if not isinstance(data, dict | list):
            return False
        try:
            data = data[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return False
    return True
