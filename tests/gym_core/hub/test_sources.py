"""Environments from hubs and installed packages, next to the built-in ones."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.errors import ConfigError
from gym_core.hub.sources import env_sources
from tests.fixtures.env_projects import installed_looking


def entry(server: str = "tests.fixtures.echo_env:EchoServer", **fields: Any) -> dict[str, Any]:
    return {
        "version": "0.1.0",
        "description": "a test environment",
        "domain": "test",
        "license": "Apache-2.0",
        "server": server,
        "datasets": {"example": "echo.jsonl"},
        **fields,
    }


def hub(directory: Path, envs: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "rl_hub.yaml").write_text(yaml.safe_dump({"envs": envs}))
    return directory


def config_with(hubs: list[Path]) -> Any:
    builtin = default_catalog_path()
    return load_config(builtin, None, None, env_sources(builtin, hubs))


def test_a_hub_adds_environments_next_to_the_built_in_ones(tmp_path: Path) -> None:
    config = config_with([hub(tmp_path / "hub", {"echo2": entry()})])
    assert set(config.envs) == set(load_config(default_catalog_path()).envs) | {"echo2"}
    assert config.envs["echo2"].server == "tests.fixtures.echo_env:EchoServer"


def test_a_source_hub_goes_last_on_sys_path_and_a_wheel_path_becomes_absolute(
    tmp_path: Path,
) -> None:
    directory = hub(
        tmp_path / "hub", {"src": entry(), "pub": entry(wheel="p-0.1.0-py3-none-any.whl")}
    )
    config = config_with([directory])
    position = sys.path.index(str(directory.resolve()))
    assert position > sys.path.index(str(Path(pytest.__file__).parent.parent))
    assert config.envs["pub"].wheel == str(directory.resolve() / "p-0.1.0-py3-none-any.whl")


@pytest.mark.parametrize(
    ("wheel", "message"),
    [
        ("../../x-0.1.0-py3-none-any.whl", "leads outside the hub directory"),
        ("/tmp/x-0.1.0-py3-none-any.whl", "leads outside the hub directory"),
        ("sub/../../x-0.1.0-py3-none-any.whl", "leads outside the hub directory"),
        ("linked-0.1.0-py3-none-any.whl", "leads outside the hub directory"),
        ("x.tar.gz", "is not a wheel file name"),
    ],
)
def test_a_wheel_outside_the_hub_is_refused_naming_the_entry_and_key(
    tmp_path: Path, wheel: str, message: str
) -> None:
    elsewhere = tmp_path / "elsewhere-0.1.0-py3-none-any.whl"
    elsewhere.write_bytes(b"not yours")
    directory = hub(tmp_path / "hub", {"pub": entry(wheel=wheel)})
    (directory / "linked-0.1.0-py3-none-any.whl").symlink_to(elsewhere)
    with pytest.raises(ConfigError) as caught:
        config_with([directory])
    assert str(caught.value).startswith(f"{directory / 'rl_hub.yaml'}: envs.pub.wheel: {wheel!r}")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_module_in_a_hub_never_shadows_one_found_elsewhere(tmp_path: Path) -> None:
    directory = hub(tmp_path / "hub", {"src": entry()})
    marker = tmp_path / "imported"
    for module in ("colorsys.py", "agent_server/__init__.py", "gym_core/__init__.py"):
        (directory / module).parent.mkdir(exist_ok=True)
        (directory / module).write_text(f"open({str(marker)!r}, 'w').close()\n")
    config_with([directory])
    saved = sys.modules.pop("colorsys", None)
    try:
        imported = importlib.import_module("colorsys")
    finally:
        if saved is not None:
            sys.modules["colorsys"] = saved
    assert not Path(imported.__file__ or "").is_relative_to(directory)
    for name in ("agent_server", "gym_core", "json"):
        spec = importlib.util.find_spec(name)
        assert spec is not None
        assert not Path(spec.origin or "").is_relative_to(directory)
    assert not marker.exists()


def test_a_hub_package_an_entry_names_that_is_found_elsewhere_first_is_refused(
    tmp_path: Path,
) -> None:
    directory = hub(tmp_path / "hub", {"shadow": entry(server="json.decoder:JSONDecoder")})
    (directory / "json.py").write_text("")
    with pytest.raises(ConfigError) as caught:
        config_with([directory])
    message = str(caught.value)
    assert message.startswith(f"{directory / 'rl_hub.yaml'}: envs.shadow.server: the hub's pac")
    assert "'json' is shadowed by" in message
    assert "a hub never replaces a module" in message


def test_a_bad_entry_names_the_hub_file_the_entry_and_the_key(tmp_path: Path) -> None:
    directory = hub(tmp_path / "hub", {"echo2": entry(agent={"max_turns": "ten"})})
    with pytest.raises(ConfigError) as caught:
        config_with([directory])
    message = str(caught.value)
    assert message.startswith(f"{directory / 'rl_hub.yaml'}: envs.echo2.agent.max_turns: Input")
    assert "(got 'ten')" in message


def test_a_bad_quality_card_is_named_too(tmp_path: Path) -> None:
    card = {
        "validated": True,
        "validated_on": "2025-01-02",
        "checks_passed": ["schema"],
        "examples": 5,
        "verify_latency_ms": {"p50": 1.0, "p99": 2.0},
        "wheel_sha256": "not-a-hash",
    }
    directory = hub(tmp_path / "hub", {"echo2": entry(card=card)})
    with pytest.raises(ConfigError, match=r"envs\.echo2\.card\.wheel_sha256: String should match"):
        config_with([directory])


def test_a_built_in_name_is_reserved(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="defines the environment 'math', a built-in name"):
        config_with([hub(tmp_path / "hub", {"math": entry()})])


def test_the_first_hub_that_names_an_environment_wins(tmp_path: Path) -> None:
    first = hub(tmp_path / "first", {"echo2": entry(version="2.0.0")})
    second = hub(tmp_path / "second", {"echo2": entry(version="1.0.0"), "other": entry()})
    config = config_with([first, second])
    assert config.envs["echo2"].version == "2.0.0"
    assert "other" in config.envs


def test_a_missing_hub_says_what_a_hub_is(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no rl_hub.yaml here. A hub is a directory"):
        config_with([tmp_path])


def test_installed_packages_are_found_through_their_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = installed_looking(tmp_path / "site", "rl-gym-env-spelled", {"spelled": entry()})
    monkeypatch.syspath_prepend(str(site))
    sources = env_sources(default_catalog_path(), [])
    [source] = [s for s in sources if "spelled" in s.envs]
    assert source.installed
    assert source.label == "installed rl-gym-env-spelled 0.1.0"
    assert "spelled" in config_with([]).envs


def test_a_hub_entry_replaces_an_installed_one_of_the_same_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = installed_looking(tmp_path / "site", "rl-gym-env-spelled", {"spelled": entry()})
    monkeypatch.syspath_prepend(str(site))
    directory = hub(tmp_path / "hub", {"spelled": entry(version="0.2.0")})
    assert config_with([directory]).envs["spelled"].version == "0.2.0"


@pytest.mark.parametrize(
    ("distributions", "message"),
    [
        (
            {"rl-gym-env-one": "twin", "rl-gym-env-two": "twin"},
            "'twin' is defined by two installed packages",
        ),
        ({"rl-gym-env-mathy": "math"}, "installed rl-gym-env-mathy 0.1.0 defines the environment"),
    ],
)
def test_installed_packages_may_not_collide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, distributions: dict[str, str], message: str
) -> None:
    for distribution, env in distributions.items():
        installed_looking(tmp_path / "site", distribution, {env: entry()})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(ConfigError, match=message):
        env_sources(default_catalog_path(), [])
