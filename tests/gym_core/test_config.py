from __future__ import annotations

from pathlib import Path

import pytest

from gym_core.catalog import default_catalog_path
from gym_core.config import load_config, select_envs
from gym_core.errors import ConfigError


def test_the_catalog_loads_and_names_the_bundled_data() -> None:
    config = load_config(default_catalog_path())
    assert config.envs["math"].example_path().is_file()


def test_a_user_file_then_flags_override_the_catalog(tmp_path: Path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text("envs:\n  math:\n    agent:\n      max_turns: 3\npolicy:\n  model: a\n")
    config = load_config(default_catalog_path(), user, {"policy": {"model": "b"}})
    assert config.envs["math"].agent.max_turns == 3
    assert config.envs["math"].server == "environments.math.server:MathServer"
    assert config.policy.model == "b"


def test_a_wrong_setting_names_its_source_and_key(tmp_path: Path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text("envs:\n  math:\n    agent:\n      max_turns: ten\n")
    with pytest.raises(ConfigError) as caught:
        load_config(default_catalog_path(), user)
    assert str(caught.value).startswith(f"{user}: envs.math.agent.max_turns: Input should be")
    assert "(got 'ten')" in str(caught.value)


def test_a_misspelt_key_is_an_error_not_ignored(tmp_path: Path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text("agent_server:\n  max_concurrancy: 3\n")
    with pytest.raises(ConfigError, match="agent_server.max_concurrancy: Extra inputs"):
        load_config(default_catalog_path(), user)


def test_flags_are_named_as_the_command_line() -> None:
    with pytest.raises(ConfigError, match="command line: serve.port"):
        load_config(default_catalog_path(), None, {"serve": {"port": 70000}})


def test_serving_beyond_loopback_requires_a_token() -> None:
    with pytest.raises(ConfigError, match="set serve.token"):
        load_config(default_catalog_path(), None, {"serve": {"host": "0.0.0.0"}})
    config = load_config(
        default_catalog_path(), None, {"serve": {"host": "0.0.0.0", "token": "s3cret-token"}}
    )
    assert config.serve.token == "s3cret-token"


@pytest.mark.parametrize("token", ["", " ", "        ", "short", "two words here"])
def test_a_blank_short_or_spaced_token_is_refused(token: str) -> None:
    with pytest.raises(ConfigError, match=r"serve.token"):
        load_config(default_catalog_path(), None, {"serve": {"token": token}})


def test_unknown_environments_get_a_suggestion() -> None:
    config = load_config(default_catalog_path())
    assert select_envs(config, "math, math") == ["math"]
    with pytest.raises(ConfigError, match="unknown environment 'maht'. Did you mean 'math'?"):
        select_envs(config, "maht")


def test_a_broken_yaml_file_is_named(tmp_path: Path) -> None:
    user = tmp_path / "broken.yaml"
    user.write_text("envs: [unclosed\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_config(default_catalog_path(), user)
