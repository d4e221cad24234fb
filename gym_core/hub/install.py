"""Installing a published environment from a hub on first use.

An entry with `wheel:` is a published package. Before it is served, its distribution must be
installed at the entry's version; if it is not, the wheel's SHA-256 is checked against the
entry's quality card and the wheel is installed into this interpreter's environment without
its dependencies (with pip when this environment has it, else with uv). A version is
published once per hub (`gym hub publish` refuses new content under an old version), so an
installed distribution of the right version is the published one. Requirements the wheel
declares must already be installed; a missing one is named.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from gym_core.catalog import EnvEntry
from gym_core.errors import ConfigError
from gym_core.hub.build import sha256_of

__all__ = ["ensure_installed", "installed_version"]


def ensure_installed(name: str, entry: EnvEntry) -> bool:
    """Install the published wheel of `entry` unless its version is installed; True if it was.

    Call before starting the environment's server.
    """
    if entry.wheel is None:
        return False
    wheel = Path(entry.wheel)
    distribution = str(parse_wheel_filename(wheel.name)[0])
    if installed_version(distribution) == entry.version:
        return False
    expected = entry.card.wheel_sha256 if entry.card else None
    if expected is None:
        raise ConfigError(f"envs.{name}: the hub gives no wheel_sha256 to check {wheel.name}")
    if not wheel.is_file():
        raise ConfigError(f"envs.{name}: the published package {wheel} is missing")
    actual = sha256_of(wheel)
    if actual != expected:
        raise ConfigError(
            f"envs.{name}: {wheel} has SHA-256 {actual}, but the hub published {expected}: "
            "the file was changed or damaged after publishing; not installing it"
        )
    _install(wheel)
    importlib.invalidate_caches()
    _check_requirements(distribution)
    return True


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _install(wheel: Path) -> None:
    if importlib.util.find_spec("pip") is not None:
        command = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q"]
    elif uv := shutil.which("uv"):
        command = [uv, "pip", "install", "--python", sys.executable, "--no-deps", "--offline"]
    else:
        raise ConfigError(
            f"cannot install {wheel.name}: this environment has neither pip nor uv "
            "(install one of them, or install the wheel yourself)"
        )
    done = subprocess.run([*command, str(wheel)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        raise ConfigError(f"installing {wheel.name} failed: {output}")


def _check_requirements(distribution: str) -> None:
    missing = []
    for line in importlib.metadata.requires(distribution) or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        version = installed_version(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            missing.append(str(requirement))
    if missing:
        raise ConfigError(
            f"{distribution} is installed, but it needs {', '.join(missing)}, which this "
            "environment does not have: install it (published environments are installed "
            "without their dependencies)"
        )
