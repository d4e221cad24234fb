from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from gym_core.hub.pins import CONFIG_DIR_ENV


@pytest.fixture(autouse=True)
def _pins_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Installs pin hashes in a file of their own, never in the user's configuration."""
    monkeypatch.setenv(CONFIG_DIR_ENV, str(tmp_path / "config"))


@pytest.fixture(autouse=True)
def _temporary_files_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The logs a failed validation keeps go where pytest cleans up."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
