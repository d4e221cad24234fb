"""The open-file limit: raised where allowed, a refusal naming the setting where not."""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Iterator

import pytest

from gym_core.errors import ConfigError
from gym_core.open_files import OPEN_FILES_RESERVE, open_files_needed, raise_open_file_limit
from tests.fixtures.serving import GYM


@pytest.fixture
def lowered_soft_limit() -> Iterator[int]:
    """The soft limit lowered (reversible: the hard limit stays); yields the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("the hard open-file limit is unlimited here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
    try:
        yield hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_connections_get_a_reserve_for_the_process_around_them() -> None:
    assert open_files_needed(1000) == 1000 + OPEN_FILES_RESERVE


def test_the_soft_limit_is_raised_to_the_hard_one(lowered_soft_limit: int) -> None:
    hard = lowered_soft_limit
    assert raise_open_file_limit(min(hard, 300)) == hard
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)


def test_more_than_the_hard_limit_is_refused_naming_what_needs_it(
    lowered_soft_limit: int,
) -> None:
    hard = lowered_soft_limit
    with pytest.raises(ConfigError) as refused:
        raise_open_file_limit(hard + 1, "agent_server.max_concurrency=9999")
    message = str(refused.value)
    assert f"needs {hard + 1} open files for agent_server.max_concurrency=9999" in message
    assert f"the hard limit is {hard}" in message
    assert "\n" not in message
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 256  # untouched


def test_gym_serve_refuses_to_start_under_a_too_low_hard_limit() -> None:
    serve = [sys.executable, "-c", GYM, "serve", "math", "--policy-url", "http://127.0.0.1:9"]
    command = f"ulimit -Sn 512 && ulimit -Hn 1024 && exec {subprocess.list2cmdline(serve)} --port 0"
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    refusal = [line for line in done.stderr.splitlines() if "open files" in line]
    assert refusal, done.stderr
    assert "but the hard limit is 1024" in refusal[0]
    assert "agent_server.max_concurrency=256" in refusal[0]
    assert "Traceback" not in done.stderr
