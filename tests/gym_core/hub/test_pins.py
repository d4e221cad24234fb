"""What vouches for a published wheel: a hash the user gave, an index, or the user's pins.

The hub's own `rl_hub.yaml` is written by whoever writes the wheel, so its hash alone never
gets a wheel installed. Every refusal here happens before anything is installed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from gym_core.cli import main
from gym_core.errors import ConfigError
from gym_core.hub.pins import Trust, pins_path

WHEEL = "rl_gym_env_fake-0.1.0-py3-none-any.whl"
DISTRIBUTION = "rl-gym-env-fake"
OTHER = "0" * 64


def card(sha256: str) -> dict[str, object]:
    return {
        "validated": True,
        "validated_on": "2025-03-04",
        "checks_passed": ["schema"],
        "examples": 1,
        "verify_latency_ms": {"p50": 1.0, "p99": 2.0},
        "wheel_sha256": sha256,
    }


@pytest.fixture
def hub(tmp_path: Path) -> Path:
    """A hub whose wheel and catalog agree, as an attacker who writes both would leave them."""
    directory = tmp_path / "hub"
    directory.mkdir()
    content = b"whatever the hub's writer put here"
    (directory / WHEEL).write_bytes(content)
    entry = {
        "version": "0.1.0",
        "description": "a published test environment",
        "domain": "test",
        "license": "MIT",
        "server": "fake_env.server:FakeServer",
        "datasets": {"example": "data/examples.jsonl"},
        "wheel": WHEEL,
        "card": card(hashlib.sha256(content).hexdigest()),
    }
    (directory / "rl_hub.yaml").write_text(yaml.safe_dump({"envs": {"fake": entry}}))
    return directory


def sha256_of_wheel(hub: Path) -> str:
    return hashlib.sha256((hub / WHEEL).read_bytes()).hexdigest()


def refusal(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("command", [["serve", "fake"], ["hub", "install", "fake"]])
def test_a_wheel_only_its_hub_vouches_for_is_not_installed(
    hub: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    err = refusal([*command, "--hub", str(hub)], capsys)
    assert f"envs.fake: nothing but the hub vouches for {WHEEL} from {hub}" in err
    assert f"gym hub install fake --hub {hub}" in err
    assert not pins_path().exists()


def test_a_pinned_hash_that_differs_is_refused(
    hub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Trust().pin(DISTRIBUTION, "0.1.0", OTHER)
    err = refusal(["hub", "install", "fake", "--hub", str(hub), "--yes"], capsys)
    assert f"has SHA-256 {sha256_of_wheel(hub)}, but your pins {pins_path()} says {OTHER}" in err


def test_a_hash_given_on_the_command_line_must_match(
    hub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refusal(["hub", "install", "fake", "--hub", str(hub), "--sha256", OTHER], capsys)
    assert f"but --sha256 says {OTHER}: not installing it" in err
    with pytest.raises(SystemExit):  # argparse's usage error
        main(["hub", "install", "fake", "--hub", str(hub), "--sha256", "abc"])
    assert "--sha256: expected 64 hexadecimal digits, got 'abc'" in capsys.readouterr().err


def test_an_index_must_match_and_must_not_lie_in_the_hub(
    hub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = tmp_path / "index.yaml"
    index.write_text(yaml.safe_dump({DISTRIBUTION: {"0.1.0": OTHER}}))
    err = refusal(["serve", "fake", "--hub", str(hub), "--hub-index", str(index)], capsys)
    assert f"but the index {index} says {OTHER}" in err
    inside = hub / "index.yaml"
    inside.write_text(yaml.safe_dump({DISTRIBUTION: {"0.1.0": sha256_of_wheel(hub)}}))
    err = refusal(["serve", "fake", "--hub", str(hub), "--hub-index", str(inside)], capsys)
    assert f"--hub-index {inside}: the index lies in the hub {hub}" in err
    missing = tmp_path / "missing.yaml"
    err = refusal(["serve", "fake", "--hub", str(hub), "--hub-index", str(missing)], capsys)
    assert f"--hub-index {missing}: no such file" in err


def test_a_damaged_wheel_is_refused_before_any_trust_is_asked(
    hub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (hub / WHEEL).write_bytes(b"changed")
    err = refusal(["hub", "install", "fake", "--hub", str(hub), "--yes"], capsys)
    assert "the file was changed or damaged after publishing; not installing it" in err
    assert not pins_path().exists()


def test_pins_are_written_and_read_back_by_distribution_and_version(tmp_path: Path) -> None:
    trust = Trust(pins=tmp_path / "pins.yaml")
    trust.pin("RL_Gym.Env-Fake", "1.0", "a" * 64)
    [pinned] = trust.expected("rl-gym-env-fake", "1.0")
    assert pinned.sha256 == "a" * 64
    assert trust.expected("rl-gym-env-fake", "1.1") == []
    index = tmp_path / "index.yaml"
    index.write_text("rl-gym-env-fake:\n  1.0: " + "b" * 64 + "\n")  # YAML reads 1.0 as a float
    both = Trust(sha256="C" * 64, index=index, pins=tmp_path / "pins.yaml")
    assert [p.sha256 for p in both.expected("rl-gym-env-fake", "1.0")] == [
        "c" * 64,
        "b" * 64,
        "a" * 64,
    ]


def test_a_broken_pins_file_is_one_line_naming_it(tmp_path: Path) -> None:
    pins = tmp_path / "pins.yaml"
    pins.write_text(yaml.safe_dump({"rl-gym-env-fake": {"0.1.0": "not-a-hash"}}))
    with pytest.raises(ConfigError) as caught:
        Trust(pins=pins).expected("rl-gym-env-fake", "0.1.0")
    assert str(caught.value).startswith(f"{pins}: rl-gym-env-fake.0.1.0: String should match")
