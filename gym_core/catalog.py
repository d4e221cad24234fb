"""The hub catalog, `rl_hub.yaml`: every environment, how to start it, and its data.

The catalog is checked against the schema below when it is loaded; an error names the file,
the entry and the key.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from gym_core.errors import ConfigError
from gym_core.settings import AgentSettings

__all__ = [
    "Catalog",
    "EnvEntry",
    "default_catalog_path",
    "load_yaml",
]

CATALOG_FILENAME = "rl_hub.yaml"
ImportString = Annotated[str, Field(pattern=r"^[\w.]+:[\w.]+$")]


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
    datasets: Datasets
    generator: ImportString | None = None
    """A function `(n, seed, difficulty) -> list of task rows` that makes new tasks for
    `gym data generate`; `difficulty` is easy, medium or hard, and the same arguments give
    the same rows."""

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


class Catalog(Entry):
    services: Services
    envs: dict[str, EnvEntry]


def default_catalog_path() -> Path:
    """`rl_hub.yaml` of this checkout, or the copy packaged with an installed wheel."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir.parent / CATALOG_FILENAME, package_dir / CATALOG_FILENAME):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"cannot find {CATALOG_FILENAME} next to {package_dir}")


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data
