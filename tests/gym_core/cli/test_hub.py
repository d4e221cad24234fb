"""`gym hub list` and `gym hub show` as a user reads them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from gym_core.catalog import default_catalog_path, load_catalog
from gym_core.cli import main
from gym_core.config import load_config
from gym_core.hub.report import CHECKS

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


FAILED_BASELINE = {
    **CARD,
    "baseline_mean_reward": None,
    "baseline_tasks": 2,
    "baseline_failed": 2,
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
        "sql": entry("code", ["single-turn", "tool-use"], card=FAILED_BASELINE),
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
    assert "0.40" in out  # chess's baseline
    assert "A games environment." in out
    assert "More words" not in out

    assert main(["hub", "list", "--hub", str(hub), "--domain", "games"]) == 0
    built_in_games = {name for name, env in built_in.items() if env.domain == "games"}
    expected = sorted({*built_in_games, "chess", "sudoku"})
    assert [n for n in names_listed(capsys.readouterr().out) if n] == expected
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

    assert main(["hub", "show", "sudoku", "--hub", str(hub)]) == 0
    assert "not published: no card yet" in capsys.readouterr().out
    assert main(["hub", "show", "sql", "--hub", str(hub)]) == 0
    assert "none scored (tiny-model) on the first 2 example tasks, 2 of them failed" in (
        capsys.readouterr().out
    )

    assert main(["hub", "show", "math"]) == 0
    out = capsys.readouterr().out
    assert "data/solutions.jsonl" in out
    assert "data/cheats.jsonl" in out
    assert re.search(r"validated\s+True on \d{4}-\d\d-\d\d", out)
    assert re.search(
        r"baseline mean reward\s+\d\.\d{4} \(embedded default model\) on the first", out
    )


def test_every_built_in_environment_shows_its_card_and_baseline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    built_in = load_catalog(default_catalog_path()).envs
    assert main(["hub", "list"]) == 0
    rows = {
        cells[0]: cells
        for line in capsys.readouterr().out.splitlines()
        if (cells := [cell.strip() for cell in line.split("│")[1:-1]]) and cells[0]
    }
    for name, entry in built_in.items():
        card = entry.card
        assert card is not None, f"{name} has no card: run `gym hub card {name}`"
        assert card.checks_passed == list(CHECKS), name
        assert card.cheats_passed == card.cheats_tried, name
        assert card.baseline_tasks, f"{name}: no baseline measured"
        _, _, domain, _, validated, baseline, origin, _ = rows[name]
        assert (domain, validated, origin) == (entry.domain, str(card.validated_on), "built-in")
        mean = card.baseline_mean_reward
        assert baseline == f"{'none' if mean is None else f'{mean:.2f}'} on {card.baseline_tasks}"


def test_show_suggests_a_name(hub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hub", "show", "chez", "--hub", str(hub)]) == 2
    assert "Did you mean 'chess'?" in capsys.readouterr().err


def test_the_hub_may_come_from_the_environment(
    hub: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RL_GYM_HUB", str(hub))
    assert main(["hub", "list", "--domain", "code"]) == 0
    assert [n for n in names_listed(capsys.readouterr().out) if n] == ["sql"]


def echo_entry(**fields: object) -> dict[str, object]:
    return {
        "version": "0.1.0",
        "description": "a test environment",
        "domain": "test",
        "license": "MIT",
        "server": "tests.fixtures.echo_env:EchoServer",
        "datasets": {"example": "echo.jsonl"},
        **fields,
    }


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        (b"envs: [1", "rl_hub.yaml: not valid YAML: expected ',' or ']'"),
        (b"\tenvs: {}", "rl_hub.yaml: not valid YAML: found character '\\t'"),
        (b"\xff\xfe\x00binary", "rl_hub.yaml: not UTF-8 text"),
        (b"- 1\n- 2\n", "rl_hub.yaml: expected a mapping at the top level"),
        (b"envs:\n  x: 3\n", "rl_hub.yaml: envs.x: Input should be a valid dictionary"),
        (b"envs: [1, 2]\n", "rl_hub.yaml: envs: Input should be a valid dictionary"),
        (b"[" * 5000, "rl_hub.yaml: "),
        (
            yaml.safe_dump({"envs": {"x": echo_entry(wheel="../../x-0.1.0-py3-none-any.whl")}}),
            "rl_hub.yaml: envs.x.wheel: '../../x-0.1.0-py3-none-any.whl' leads outside the hub",
        ),
        (
            yaml.safe_dump({"envs": {"x": echo_entry(wheel="/etc/x-0.1.0-py3-none-any.whl")}}),
            "rl_hub.yaml: envs.x.wheel: '/etc/x-0.1.0-py3-none-any.whl' leads outside the hub",
        ),
        (
            yaml.safe_dump({"envs": {"x": echo_entry(wheel="x.whl")}}),
            "rl_hub.yaml: envs.x.wheel: 'x.whl' is not a wheel file name",
        ),
    ],
)
@pytest.mark.parametrize("command", [["hub", "list"], ["serve", "x"], ["hub", "install", "x"]])
def test_a_broken_hub_is_one_line_naming_the_file_and_key(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    catalog: bytes | str,
    message: str,
    command: list[str],
) -> None:
    path = tmp_path / "rl_hub.yaml"
    path.write_bytes(catalog if isinstance(catalog, bytes) else catalog.encode())
    assert main([*command, "--hub", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gym {command[0]}: error: {tmp_path}/{message}")
    assert err.count("\n") == 1, err


def test_the_current_directory_is_never_a_hub_implicitly(
    hub: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(hub)
    assert main(["hub", "list"]) == 0
    assert "sudoku" not in names_listed(capsys.readouterr().out)
    assert main(["hub", "list", "--hub", "."]) == 0
    assert "sudoku" in names_listed(capsys.readouterr().out)
