"""Where environments come from besides the built-in catalog: installed packages and hubs.

- **Installed packages.** Each entry point in the group `rl_gym.environments` names one
  environment: its name is the environment's name, and its value is the package (a module
  path, e.g. `letters_env`) that holds the environment's `rl_hub.yaml`. `gym hub new` writes
  such a package and `gym hub publish` builds it into a wheel.
- **Hub directories** (`--hub DIR` only: the current directory is never one implicitly). An
  entry with `wheel:` is a published package, installed on first use (`gym_core.hub.install`)
  from a wheel that must lie inside the hub directory; an entry without one is served from
  source, so the directory goes at the end of `sys.path` and its packages import in place. An
  environment project made by `gym hub new` is such a directory.

A hub never shadows a module: its directory comes after everything else on `sys.path`, so a
hub holding `json.py` or `gym_core/` imports nothing from them, and a package an entry names
that is found elsewhere first is an error rather than a silent swap.

Built-in names are reserved: an installed package or a hub that reuses one is a `ConfigError`,
and so are two installed packages with one name. Otherwise the first source that names an
environment wins, in this order: the `--hub` directories as given, installed packages. So a
hub's newer version replaces an installed one. `gym hub list` shows where each environment
comes from.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from gym_core.catalog import CATALOG_FILENAME, EnvEntry, load_catalog, load_yaml
from gym_core.errors import ConfigError

__all__ = [
    "BUILT_IN",
    "ENTRY_POINT_GROUP",
    "EnvSource",
    "env_sources",
    "hub_source",
    "hub_wheel",
]

ENTRY_POINT_GROUP = "rl_gym.environments"
BUILT_IN = "built-in"


@dataclass(frozen=True)
class EnvSource:
    """Environments from one place, as raw catalog entries (the config checks them)."""

    label: str
    """Where they come from, as `gym hub list` shows it."""
    path: Path
    """The catalog file they were read from."""
    installed: bool
    """True for an installed package, False for a hub directory."""
    envs: dict[str, dict[str, Any]] = field(default_factory=dict)


def env_sources(builtin_catalog: Path, hubs: list[Path]) -> list[EnvSource]:
    """The environments of the hubs and the installed packages, with collisions resolved.

    Each environment appears in exactly one source; a built-in name reused is an error.
    """
    builtin = set(load_yaml(builtin_catalog).get("envs") or {})
    owners: dict[str, EnvSource] = {}
    files = {builtin_catalog.resolve()}
    hub_sources = []
    for hub in hubs:
        catalog = (hub / CATALOG_FILENAME).resolve()
        if catalog not in files:  # the built-in catalog, or a hub named twice
            files.add(catalog)
            hub_sources.append(hub_source(hub))
    sources = []
    for source in [*hub_sources, *_installed_sources()]:
        kept = {}
        for name, entry in source.envs.items():
            if name in builtin:
                raise ConfigError(
                    f"{source.label} defines the environment {name!r}, a built-in name: "
                    "rename it (built-in names are reserved)"
                )
            owner = owners.get(name)
            if owner is not None and owner.installed and source.installed:
                raise ConfigError(
                    f"the environment {name!r} is defined by two installed packages, "
                    f"{owner.label} and {source.label}: uninstall one"
                )
            if owner is None:
                owners[name] = source
                kept[name] = entry
        if kept:
            sources.append(replace(source, envs=kept))
    return sources


def hub_source(hub: Path) -> EnvSource:
    """The environments listed in a hub directory's `rl_hub.yaml`, checked.

    Wheel paths become absolute; for source entries the directory goes last on `sys.path`.
    """
    path = hub / CATALOG_FILENAME
    if not path.is_file():
        raise ConfigError(
            f"{hub}: no {CATALOG_FILENAME} here. A hub is a directory holding {CATALOG_FILENAME} "
            "and its packages (`gym hub publish PATH --hub DIR` makes one); an environment "
            "project holds one too (`gym hub new NAME` makes one)."
        )
    catalog = load_catalog(path)  # a schema error names this file and the key
    envs: dict[str, dict[str, Any]] = dict(load_yaml(path).get("envs") or {})
    for name, entry in catalog.envs.items():
        if entry.wheel is not None:
            envs[name] = {**envs[name], "wheel": str(hub_wheel(hub, name, entry.wheel))}
        else:
            _importable(hub, name, entry, path)
    return EnvSource(label=f"hub {hub}", path=path, installed=False, envs=envs)


def hub_wheel(hub: Path, name: str, wheel: str) -> Path:
    """The absolute path of an entry's wheel, which must name a wheel file inside `hub`.

    A catalog's writer could otherwise point `wheel:` anywhere (`../../x.whl`, `/tmp/x.whl`,
    a symlink leading out), and publishing deletes the wheels it no longer lists.
    """
    where = f"{hub / CATALOG_FILENAME}: envs.{name}.wheel"
    try:
        parse_wheel_filename(Path(wheel).name)
    except InvalidWheelFilename:
        raise ConfigError(f"{where}: {wheel!r} is not a wheel file name") from None
    root = hub.resolve()
    path = (root / wheel).resolve()
    if Path(wheel).is_absolute() or not path.is_relative_to(root):
        raise ConfigError(
            f"{where}: {wheel!r} leads outside the hub directory {root}; a hub's wheels lie "
            "inside it, named relative to it"
        )
    return path


def _installed_sources() -> list[EnvSource]:
    """One source per entry point of the group, each holding its one environment."""
    sources = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        label = f"installed {dist.name} {dist.version}" if dist else "installed"
        what = f"{label}: entry point {ENTRY_POINT_GROUP}:{entry_point.name}"
        catalog = _packaged_catalog(entry_point.module, what)
        envs = load_yaml(catalog).get("envs") or {}
        if entry_point.name not in envs:
            raise ConfigError(f"{what}: {catalog} has no entry {entry_point.name!r}")
        if load_catalog(catalog).envs[entry_point.name].wheel is not None:
            raise ConfigError(
                f"{catalog}: envs.{entry_point.name}.wheel: an installed environment is its "
                "own package and names no wheel"
            )
        sources.append(
            EnvSource(
                label=label,
                path=catalog,
                installed=True,
                envs={entry_point.name: envs[entry_point.name]},
            )
        )
    return sources


def _packaged_catalog(module: str, what: str) -> Path:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as error:
        raise ConfigError(f"{what}: cannot find the package {module!r}: {error}") from None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"{what}: {module!r} is not an installed package")
    catalog = Path(next(iter(spec.submodule_search_locations))) / CATALOG_FILENAME
    if not catalog.is_file():
        raise ConfigError(f"{what}: the package {module!r} holds no {CATALOG_FILENAME}")
    return catalog


def _importable(hub: Path, name: str, entry: EnvEntry, path: Path) -> None:
    """Append a source hub to `sys.path` (once), so its packages import where they are; and
    refuse a package of the hub that an entry names but that is found elsewhere first."""
    root = hub.resolve()
    if str(root) not in sys.path:
        sys.path.append(str(root))
        importlib.invalidate_caches()
    for key, import_string in (("server", entry.server), ("generator", entry.generator)):
        package = (import_string or "").split(":")[0].split(".")[0]
        if not package or not ((root / package).is_dir() or (root / f"{package}.py").is_file()):
            continue
        found = _found_at(package)
        if found is not None and not found.is_relative_to(root):
            raise ConfigError(
                f"{path}: envs.{name}.{key}: the hub's package {package!r} is shadowed by "
                f"{found}, which comes first on the import path: rename the hub's package (or "
                "uninstall the other one); a hub never replaces a module"
            )


def _found_at(package: str) -> Path | None:
    """Where `import package` would load it from, without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    location = spec.origin if spec.has_location else None
    if location is None and spec.submodule_search_locations:
        location = next(iter(spec.submodule_search_locations))
    return Path(location).resolve() if location else None
