"""Fixtures shared by the environments' tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from resources_server.sandbox import Limits, Sandbox, SandboxSettings, create_sandbox


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """The real sandbox, with tight limits."""
    sandbox = create_sandbox(SandboxSettings(limits=Limits(cpu_time_s=1, wall_time_s=10)))
    yield sandbox
    await sandbox.close()
