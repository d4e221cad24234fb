"""What the base class declares about an environment: whether its episodes need a session."""

from __future__ import annotations

import pytest

from gym_core.catalog import default_catalog_path, load_catalog
from gym_core.imports import import_object
from resources_server import ResourcesServer
from tests.fixtures.echo_env import EchoDialogServer, EchoServer, PlainEchoServer


@pytest.mark.parametrize(
    ("server", "needs_session"),
    [(PlainEchoServer, False), (EchoServer, True), (EchoDialogServer, True)],
)
def test_tools_or_turns_of_its_own_make_an_environment_need_sessions(
    server: type[ResourcesServer], needs_session: bool
) -> None:
    assert server.needs_session() is needs_session


def test_the_single_turn_environments_of_the_catalog_need_no_session() -> None:
    envs = load_catalog(default_catalog_path()).envs
    single_turn = {
        name for name, entry in envs.items() if not import_object(entry.server).needs_session()
    }
    assert single_turn == {
        "code",
        "instruction_following",
        "math",
        "mcqa",
        "reasoning_gym",
        "structured_outputs",
        "text_to_sql",
    }
