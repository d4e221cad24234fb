"""The SHA-256 a user trusts for each published wheel: pinned by the user, or from an index.

A hub's `rl_hub.yaml` states each wheel's SHA-256, but whoever can write the wheel can write
that file too, so its hash only catches damage. Trust comes from outside the hub directory:

- `--sha256 HEX` given to `gym hub install`;
- an index (`--hub-index FILE`): the hashes a hub's maintainer publishes through another
  channel, e.g. a file checked into the trainer's repository;
- the user's pins file (`hub-pins.yaml` in `$RL_GYM_CONFIG_DIR`, else `$XDG_CONFIG_HOME/rl-gym`,
  else `~/.config/rl-gym`), written by a first install the user confirmed (trust on first
  use). A later wheel of the same distribution and version with another hash is refused.

An index and the pins file share one format: distribution, then version, then the hash.

```yaml
rl-gym-env-letters:
  0.1.0: 5f3c...e1
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from packaging.utils import canonicalize_name
from pydantic import Field, TypeAdapter, ValidationError

from gym_core.catalog import load_yaml
from gym_core.errors import ConfigError, format_validation_error

__all__ = ["CONFIG_DIR_ENV", "PINS_FILENAME", "Pinned", "Trust", "pins_path"]

CONFIG_DIR_ENV = "RL_GYM_CONFIG_DIR"
PINS_FILENAME = "hub-pins.yaml"
PINS_HEADER = (
    "# SHA-256 of the hub wheels this user trusts, by distribution and version; written by\n"
    "# `gym hub install` on a confirmed first install. Delete a line to trust a wheel anew.\n"
)

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Hashes = TypeAdapter(dict[str, dict[str, Sha256]])


@dataclass(frozen=True)
class Pinned:
    sha256: str
    source: str
    """Who vouches for it: the flag, the index or the pins file, named for the error."""


@dataclass
class Trust:
    """Where expected hashes come from, in the order they are consulted."""

    sha256: str | None = None
    """The hash the user gave on the command line (`--sha256`)."""
    index: Path | None = None
    pins: Path | None = None
    """The pins file; `pins_path()` unless a test chooses another."""

    def expected(self, distribution: str, version: str) -> list[Pinned]:
        """Every hash vouched for `distribution` at `version`; empty when none is."""
        found = []
        if self.sha256 is not None:
            found.append(Pinned(self.sha256.lower(), "--sha256"))
        for path, source in ((self.index, "the index"), (self._pins(), "your pins")):
            if path is None:
                continue
            sha256 = _read(path).get(canonicalize_name(distribution), {}).get(version)
            if sha256 is not None:
                found.append(Pinned(sha256, f"{source} {path}"))
        return found

    def pin(self, distribution: str, version: str, sha256: str) -> Path:
        """Record `sha256` as the trusted hash of `distribution` at `version`."""
        path = self._pins()
        hashes = _read(path)
        hashes.setdefault(canonicalize_name(distribution), {})[version] = sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(PINS_HEADER + yaml.safe_dump(hashes, sort_keys=True))
        os.replace(temporary, path)
        return path

    def _pins(self) -> Path:
        return self.pins or pins_path()


def pins_path() -> Path:
    """The user's pins file (it need not exist yet)."""
    if os.environ.get(CONFIG_DIR_ENV):
        return Path(os.environ[CONFIG_DIR_ENV]) / PINS_FILENAME
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "rl-gym" / PINS_FILENAME


def _read(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    data = {  # YAML reads `1.0:` as a number; a version is its text
        str(name): {str(v): h for v, h in versions.items()}
        if isinstance(versions, dict)
        else versions
        for name, versions in load_yaml(path).items()
    }
    try:
        hashes = Hashes.validate_python(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(str(path), error)) from None
    return {canonicalize_name(name): versions for name, versions in hashes.items()}
