"""Finding the programs a sandbox runs, and saying clearly why one cannot be used."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from resources_server.sandbox import SandboxError
from resources_server.sandbox.executables import base_interpreter, find_interpreter


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user can traverse (pytest's own tmp_path may not be)."""
    with tempfile.TemporaryDirectory(dir="/tmp") as name:
        Path(name).chmod(0o755)
        yield Path(name)


def fake_python(directory: Path) -> Path:
    directory.mkdir(parents=True)
    python = directory / "python3"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    return python


def test_the_default_is_the_servers_base_interpreter() -> None:
    assert find_interpreter(None, for_other_users=False) == base_interpreter().resolve()


def test_a_configured_interpreter_is_used(tmp_path: Path) -> None:
    python = fake_python(tmp_path / "bin")
    assert find_interpreter(str(python), for_other_users=False) == python


def test_an_interpreter_behind_a_closed_directory_is_refused(open_dir: Path) -> None:
    private = open_dir / "private"
    python = fake_python(private / "bin")
    private.chmod(0o700)
    with pytest.raises(SandboxError, match=f"{private} is closed to other users.*every user"):
        find_interpreter(str(python), for_other_users=True)
    assert find_interpreter(str(python), for_other_users=False) == python


def test_a_missing_interpreter_is_named(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match=f"{tmp_path}/nope: no such file"):
        find_interpreter(str(tmp_path / "nope"), for_other_users=False)
