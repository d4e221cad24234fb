"""`gym hub list` and `gym hub show` as a user reads them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gym_core.catalog import default_catalog_path
from gym_core.cli import main
from gym_core.config import load_config

CARD = {
    "validated": True,
    "validated_on": "2025-03-04",
    "checks_passed": ["schema", "starts"],
    "examples": 5,
    "cheats_tried": 12,
    "cheats_passed": 12,
    "verify_latency_ms": {"p50": 1.5, "p99": 4.25},
    "baseline_mean_reward": 0.4,
    "baseline_policy": "tiny-model",
    "wheel_sha256": "ab" * 32,
}


@pytest.fixture
def hub(tmp_path: Path) -> Path:
    def entry(domain: str, tags: list[str], **fields: object) -> dict[str, object]:
        return {
            "version": "0.3.0",
            "description": f"A {domain} environment. More words here.",
            "domain": domain,
            "tags": tags,
            "license": "MIT",
            "server": "tests.fixtures.echo_env:EchoServer",
            "datasets": {"example": "echo.jsonl"},
            **fields,
        }

    envs = {
        "chess": entry("games", ["multi-turn"], wheel="c-0.3.0-py3-none-any.whl", card=CARD),
        "sudoku": entry("games", ["single-turn"]),
        "sql": entry("code", ["single-turn", "tool-use"]),
    }
    (tmp_path / "rl_hub.yaml").write_text(yaml.safe_dump({"envs": envs}))
    return tmp_path


def names_listed(out: str) -> list[str]:
    return [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│ ")]


def test_list_shows_every_environment_and_filters(
    hub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hub", "list", "--hub", str(hub)]) == 0
    out = capsys.readouterr().out
    built_in = load_config(default_catalog_path()).envs
    assert [n for n in names_listed(out) if n] == sorted({*built_in, "chess", "sql", "sudoku"})
    assert "2025-03-04" in out
    assert "A games environment." in out
    assert "More words" not in out

    assert main(["hub", "list", "--hub", str(hub), "--domain", "games"]) == 0
    assert [n for n in names_listed(capsys.readouterr().out) if n] == ["chess", "sudoku"]
    assert main(["hub", "list", "--hub", str(hub), "--tag", "single-turn"]) == 0
    single_turn = {name for name, env in built_in.items() if "single-turn" in env.tags}
    assert [n for n in names_listed(capsys.readouterr().out) if n] == sorted(
        single_turn | {"sql", "sudoku"}
    )


def test_show_prints_the_entry_and_its_quality_card(
    hub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["hub", "show", "chess", "--hub", str(hub)]) == 0
    out = capsys.readouterr().out
    assert f"chess 0.3.0  (hub {hub})" in out
    for text in (
        "True on 2025-03-04",
        "schema, starts",
        "p50 1.5 ms, p99 4.25 ms",
        "12 tried, 12 earned nothing",
        "0.4000 (tiny-model)",
        "ab" * 32,
        str(hub / "c-0.3.0-py3-none-any.whl"),
    ):
        assert text in out

    assert main(["hub", "show", "math"]) == 0
    out = capsys.readouterr().out
    assert "not published: no card yet" in out
    assert "data/solutions.jsonl" in out
    assert "data/cheats.jsonl" in out


def test_show_suggests_a_name(hub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hub", "show", "chez", "--hub", str(hub)]) == 2
    assert "Did you mean 'chess'?" in capsys.readouterr().err


def test_the_hub_may_come_from_the_environment(
    hub: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RL_GYM_HUB", str(hub))
    assert main(["hub", "list", "--domain", "code"]) == 0
    assert [n for n in names_listed(capsys.readouterr().out) if n] == ["sql"]
