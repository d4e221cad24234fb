"""Where `gym serve` takes its token from: a file or the environment, never only argv; a blank
one is refused wherever it comes from, and so is one a service is started with directly."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gym_core.catalog import default_catalog_path
from gym_core.cli import build_parser
from gym_core.cli.options import TOKEN_ENV, add_service_arguments, load_cli_config
from gym_core.config import load_config
from gym_core.errors import ConfigError
from gym_core.launch.plan import POLICY, plan_services, service_names
from gym_core.settings import (
    AgentServerSettings,
    PolicyServerSettings,
    ResourcesServerSettings,
    parse_settings,
)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_service_arguments(parser)
    return parser.parse_args(argv)


def test_the_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "token-from-env")
    assert load_cli_config(parse([])).serve.token == "token-from-env"


@pytest.mark.parametrize("blank", ["", "   ", "\n\t\n"])
def test_a_blank_token_file_or_variable_is_refused(
    blank: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(blank)
    with pytest.raises(ConfigError, match="serve.token"):
        load_cli_config(parse(["--token-file", str(token_file)]))
    monkeypatch.setenv(TOKEN_ENV, blank)
    with pytest.raises(ConfigError, match="serve.token"):
        load_cli_config(parse([]))


@pytest.mark.parametrize(
    "settings",
    [
        (PolicyServerSettings, {}),
        (AgentServerSettings, {"envs": {}, "policy_url": "http://127.0.0.1:1"}),
        (ResourcesServerSettings, {"name": "echo", "server": "m:C"}),
    ],
)
@pytest.mark.parametrize("token", ["", " ", "two words"])
def test_a_service_started_on_its_own_refuses_a_blank_token(
    settings: tuple[type, dict[str, object]], token: str
) -> None:
    model, required = settings
    with pytest.raises(ConfigError, match="token"):
        parse_settings(model, {**required, "token": token}, "settings")


@pytest.mark.parametrize(
    ("serve", "locked"),
    [
        ({}, False),
        ({"lock_admin": True}, True),
        ({"host": "0.0.0.0", "token": "a-long-token"}, True),
        ({"host": "0.0.0.0", "token": "a-long-token", "lock_admin": False}, False),
    ],
)
def test_the_admin_routes_are_locked_off_loopback_or_on_request(
    serve: dict[str, object], locked: bool
) -> None:
    config = load_config(default_catalog_path(), None, {"serve": serve})
    urls = {name: "http://127.0.0.1:1" for name in service_names(["math"])}
    [policy] = [spec for spec in plan_services(config, ["math"], urls) if spec.name == POLICY]
    assert policy.settings["lock_admin"] is locked


def test_lock_admin_is_a_serve_flag() -> None:
    args = build_parser("serve").parse_args(["serve", "math", "--lock-admin"])
    assert args.lock_admin is True
