"""Installing a published environment from a hub.

An entry with `wheel:` is a published package. Before it is served, its distribution must be
installed at the entry's version. If it is not, the wheel is copied out of the hub, and the
copy's SHA-256 must match every hash vouched for it from outside the hub (`gym_core.hub.pins`):
the hash in the hub's own `rl_hub.yaml` only catches damage, since whoever writes the wheel
writes that file too. A wheel nothing vouches for is installed only on the user's say-so
(`gym hub install`), which pins its hash for next time. The copy is installed into this
interpreter's environment without its dependencies (with pip when this environment has it,
else with uv). A version is published once per hub (`gym hub publish` refuses new content
under an old version), so an installed distribution of the right version is the published
one. Requirements the wheel declares must already be installed; a missing one is named.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

from gym_core.catalog import EnvEntry
from gym_core.errors import ConfigError
from gym_core.hub.build import sha256_of
from gym_core.hub.pins import Trust

__all__ = ["Confirm", "ensure_installed", "installed_version"]

Confirm = Callable[[str], bool]
"""Asks the user whether to trust a wheel nothing vouches for, given a description of it."""


def ensure_installed(
    name: str, entry: EnvEntry, trust: Trust, confirm: Confirm | None = None
) -> bool:
    """Install the published wheel of `entry` unless its version is installed; True if it was.

    Call before starting the environment's server. Without `confirm`, a wheel nothing vouches
    for is refused.
    """
    if entry.wheel is None:
        return False
    wheel = Path(entry.wheel)
    distribution = str(parse_wheel_filename(wheel.name)[0])
    if installed_version(distribution) == entry.version:
        return False
    with tempfile.TemporaryDirectory(prefix="rl-gym-install-") as scratch:
        copy = Path(scratch) / wheel.name  # checked, then installed: the hub cannot swap it
        try:
            shutil.copyfile(wheel, copy)
        except OSError as error:
            raise ConfigError(
                f"envs.{name}: cannot read the published package {wheel}: {error.strerror}"
            ) from None
        actual = sha256_of(copy)
        published = entry.card.wheel_sha256 if entry.card else None
        if published is not None and actual != published:
            raise ConfigError(
                f"envs.{name}: {wheel} has SHA-256 {actual}, but the hub published {published}: "
                "the file was changed or damaged after publishing; not installing it"
            )
        _check_trusted(name, wheel, actual, trust, confirm)
        _install(copy)
    importlib.invalidate_caches()
    _check_requirements(distribution)
    return True


def _check_trusted(
    name: str, wheel: Path, actual: str, trust: Trust, confirm: Confirm | None
) -> None:
    """Refuse a hash that differs from one vouched for, or that nothing vouches for and the
    user does not confirm; pin what is installed, so a later different hash is refused."""
    distribution, version, _, _ = parse_wheel_filename(wheel.name)
    vouched = trust.expected(distribution, str(version))
    for pinned in vouched:
        if pinned.sha256 != actual:
            raise ConfigError(
                f"envs.{name}: {wheel} has SHA-256 {actual}, but {pinned.source} says "
                f"{pinned.sha256}: not installing it"
            )
    described = f"{wheel.name} from {wheel.parent}, SHA-256 {actual}"
    if not vouched and (confirm is None or not confirm(described)):
        raise ConfigError(
            f"envs.{name}: nothing but the hub vouches for {described}; check it, then trust "
            f"it with `gym hub install {name} --hub {wheel.parent}` (with --sha256 HEX, the "
            "hash you expect), or pass --hub-index FILE"
        )
    trust.pin(distribution, str(version), actual)


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
        output = " ".join((done.stderr or done.stdout).split())  # one line
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
