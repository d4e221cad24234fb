"""Building an environment project into a wheel, offline.

The project's own `pyproject.toml` names its build backend (hatchling for the projects
`gym hub new` writes). It runs in this interpreter without build isolation, through PyPA's
`build` frontend: nothing is downloaded, so the backend must be installed here, and RL Gym
depends on hatchling for that reason. The wheel must declare the environment in the entry
point group `rl_gym.environments` and carry the version its hub entry says.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.utils import parse_wheel_filename

from gym_core.errors import ConfigError
from gym_core.hub.sources import ENTRY_POINT_GROUP

__all__ = ["build_wheel", "sha256_of", "wheel_entry_points"]

BUILD_OUTPUT_LINES = 20
"""How much of a failed build's output the error repeats."""


def build_wheel(project: Path, out_dir: Path, *, envs: list[str], version: str) -> Path:
    """Build `project` into a wheel in `out_dir`; check its entry points and version."""
    import build

    try:
        builder = build.ProjectBuilder(project, python_executable=sys.executable, runner=_runner)
        missing = builder.check_dependencies("wheel")
    except build.BuildException as error:
        raise ConfigError(f"{project}: cannot build: {error}") from None
    if missing:
        needed = ", ".join(sorted(" -> ".join(chain) for chain in missing))
        raise ConfigError(
            f"{project}: its build backend needs {needed}, which is not installed here; the "
            "build runs offline in this environment, so install it first"
        )
    try:
        wheel = Path(builder.build("wheel", out_dir))
    except build.BuildBackendException as error:
        output = getattr(error.exception, "output", b"") or b""
        tail = output.decode(errors="replace").strip().splitlines()[-BUILD_OUTPUT_LINES:]
        raise ConfigError(f"{project}: the build failed:\n" + "\n".join(tail)) from None
    _check_wheel(wheel, envs=envs, version=version)
    return wheel


def sha256_of(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def wheel_entry_points(wheel: Path) -> dict[str, dict[str, str]]:
    """The entry points a wheel declares, by group."""
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        if not names:
            return {}
        text = archive.read(names[0]).decode()
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return {group: dict(parser[group]) for group in parser.sections()}


def _check_wheel(wheel: Path, *, envs: list[str], version: str) -> None:
    built_version = str(parse_wheel_filename(wheel.name)[1])
    if built_version != version:
        raise ConfigError(
            f"{wheel.name}: the package's version is {built_version} but its hub entry says "
            f"{version}; keep them the same (a project from `gym hub new` reads its version "
            "from rl_hub.yaml)"
        )
    group = wheel_entry_points(wheel).get(ENTRY_POINT_GROUP, {})
    for env in envs:
        if env in group:
            continue
        raise ConfigError(
            f"{wheel.name}: no entry point {env!r} in the group {ENTRY_POINT_GROUP!r}; add "
            f'`[project.entry-points."{ENTRY_POINT_GROUP}"]` with `{env} = "PACKAGE"` (the '
            "package holding rl_hub.yaml) to pyproject.toml"
        )


def _runner(
    cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
) -> None:
    """Run a backend hook quietly; its output is kept for the error if it fails."""
    env = {**os.environ, **(extra_environ or {})}
    subprocess.run(
        cmd, cwd=cwd, env=env, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
