"""The hub catalog, `rl_hub.yaml`: every environment, how to start it, its data and its card.

The catalog is checked against the schema below when it is loaded; an error names the file,
the entry and the key. The same schema serves the built-in catalog (which also names the
services), an environment project's own `rl_hub.yaml`, and a hub directory's catalog of
published packages.
"""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gym_core.errors import ConfigError, format_validation_error
from gym_core.settings import AgentSettings, ReplicaSettings

__all__ = [
    "CATALOG_FILENAME",
    "Catalog",
    "EnvEntry",
    "LatencyMs",
    "QualityCard",
    "default_catalog_path",
    "load_catalog",
    "load_yaml",
]

CATALOG_FILENAME = "rl_hub.yaml"
FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it: `rl_hub.yaml` reads in 3 ms instead
of 23 ms, and `gym serve` reads it twice as it starts."""
ImportString = Annotated[str, Field(pattern=r"^[\w.]+:[\w.]+$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Services(Entry):
    """Import strings of the app factories the launcher starts."""

    agent_server: ImportString
    policy_server: ImportString
    resources_server: ImportString


class Datasets(Entry):
    example: str
    """The bundled example tasks, a path relative to the environment's package."""
    full: str | None = None
    """Where the full data lives (a URL or a description of how to get it)."""
    solutions: str | None = None
    """Reference solutions of the example tasks, a path relative to the environment's package:
    what `gym hub validate` plays instead of a model (see `gym_core.hub.solutions`)."""
    cheats: str | None = None
    """Cheat probes of the example tasks, a path relative to the environment's package:
    answers that game the verifier, each of which must earn reward 0."""


class LatencyMs(Entry):
    p50: Annotated[float, Field(ge=0)]
    p99: Annotated[float, Field(ge=0)]


class QualityCard(Entry):
    """What `gym hub publish` measured: proof that the environment works, not a promise."""

    validated: bool
    """True when every check of `gym hub validate` passed."""
    validated_on: date
    checks_passed: list[str]
    """The checks that passed, by name (`schema`, `starts`, `reference`, ...)."""
    examples: Annotated[int, Field(ge=0)]
    """Example tasks the checks ran on."""
    verify_latency_ms: LatencyMs
    """Wall-clock time of one verify call, as the validator measured it."""
    cheats_tried: Annotated[int, Field(ge=0)] | None = None
    """Cheat probes played against the verifier; None on cards made before they existed."""
    cheats_passed: Annotated[int, Field(ge=0)] | None = None
    """Of those, the ones that earned nothing, as they must."""
    baseline_mean_reward: float | None = None
    """Mean reward of the baseline policy on the example tasks; None when not measured."""
    baseline_policy: str | None = None
    """The model the baseline was measured with."""
    baseline_tasks: Annotated[int, Field(ge=0)] | None = None
    """How many example tasks (the first ones) the baseline rolled out; None: all of them."""
    baseline_failed: Annotated[int, Field(ge=0)] | None = None
    """Of those rollouts, the ones that failed (an engine timeout, a full context): they have no
    reward, so the mean is over the others, and None when none was scored."""
    wheel_sha256: Sha256 | None = None
    """SHA-256 of the published wheel; checked before it is installed."""


class EnvEntry(Entry):
    """One environment of the hub."""

    version: str
    description: str
    domain: str
    tags: list[str] = Field(default_factory=list)
    license: str
    server: ImportString
    """The environment's `ResourcesServer` subclass."""
    settings: dict[str, Any] = Field(default_factory=dict)
    """Settings passed to the environment's server (checked by its `settings_model`)."""
    agent: AgentSettings = Field(default_factory=AgentSettings)
    cluster: ReplicaSettings = Field(default_factory=ReplicaSettings)
    """Replicas, CPUs per replica and autoscaling bounds under `gym serve --cluster`."""
    datasets: Datasets
    generator: ImportString | None = None
    """A function `(n, seed, difficulty) -> list of task rows` that makes new tasks for
    `gym data generate`; `difficulty` is easy, medium or hard, and the same arguments give
    the same rows."""
    wheel: str | None = None
    """The published package (a wheel file): in a hub's `rl_hub.yaml`, relative to the hub
    directory; once loaded, an absolute path. None for an environment served from source."""
    card: QualityCard | None = None

    def package_dir(self) -> Path:
        """The directory of the package that holds the server, found without importing it."""
        module = self.server.split(":")[0]
        package = module.rpartition(".")[0] or module
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"cannot find the package {package!r} of server {self.server!r}")
        return Path(next(iter(spec.submodule_search_locations)))

    def example_path(self) -> Path:
        return self.package_dir() / self.datasets.example

    def solutions_path(self) -> Path | None:
        if self.datasets.solutions is None:
            return None
        return self.package_dir() / self.datasets.solutions

    def cheats_path(self) -> Path | None:
        if self.datasets.cheats is None:
            return None
        return self.package_dir() / self.datasets.cheats


class Catalog(Entry):
    services: Services | None = None
    """Set in the built-in catalog only; other catalogs list environments."""
    envs: dict[str, EnvEntry] = Field(default_factory=dict)


def load_catalog(path: Path) -> Catalog:
    """The catalog in `path`, checked; a `ConfigError` naming the file and each bad key."""
    try:
        return Catalog.model_validate(load_yaml(path))
    except ValidationError as error:
        raise ConfigError(format_validation_error(str(path), error)) from None


def default_catalog_path() -> Path:
    """`rl_hub.yaml` of this checkout, or the copy packaged with an installed wheel."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir.parent / CATALOG_FILENAME, package_dir / CATALOG_FILENAME):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"cannot find {CATALOG_FILENAME} next to {package_dir}")


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = _parsed(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(error)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _parsed(text: str) -> Any:
    """The YAML document in `text`. One libyaml refuses is read again by PyYAML's own loader,
    which raises with the clearer message (it names the character it cannot read)."""
    try:
        return yaml.load(text, Loader=FAST_LOADER)
    except yaml.YAMLError:
        return yaml.load(text, Loader=yaml.SafeLoader)


def _yaml_problem(error: yaml.YAMLError) -> str:
    """PyYAML's several-line message as one line: the problem and where it is."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(error).split())
