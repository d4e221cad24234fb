"""One running stack for the fuzz tests: the agent server, the policy server in front of a
scripted engine, and the resources servers of `echo` (the test fixture) and `math`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gym_core.launch.local import Running
from tests.conftest import gym_stack, scripted_engine

FUZZED_ENVS = ["echo", "math"]


@pytest.fixture(scope="package")
def stack() -> Iterator[Running]:
    with (
        scripted_engine([{"reply": "The answer is \\boxed{4}."}]) as engine,
        gym_stack(FUZZED_ENVS, [engine]) as running,
    ):
        yield running
