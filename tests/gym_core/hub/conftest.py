from __future__ import annotations

import tempfile
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _temporary_files_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The logs a failed validation keeps go where pytest cleans up."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
