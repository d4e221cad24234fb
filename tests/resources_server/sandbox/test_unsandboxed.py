"""The opt-in backend without isolation: loudly announced, and still bounded by rlimits."""

from __future__ import annotations

import logging

import pytest

from resources_server.sandbox import Limits, SandboxSettings, create_sandbox


async def test_it_warns_loudly_and_still_applies_the_limits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="rl_gym.sandbox"):
        sandbox = create_sandbox(
            SandboxSettings(backend="unsandboxed", limits=Limits(cpu_time_s=1, wall_time_s=10))
        )
    assert "WITHOUT ISOLATION" in caplog.text
    result = await sandbox.run(
        program="import os\nprint(sorted(os.environ), open('in.txt').read(), input())",
        files={"in.txt": "file"},
        stdin="typed\n",
    )
    assert result.stdout == "['HOME', 'LANG', 'PATH', 'TMPDIR'] file typed\n"
    spin = await sandbox.run(program="while True:\n    pass")
    assert spin.timed_out
