"""Writing a quality card into a catalog in place: the card reads back as written, a second
card replaces the first, and every other line (comments included) stays as it was."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from gym_core.catalog import LatencyMs, load_catalog
from gym_core.errors import ConfigError
from gym_core.hub.baseline import Baseline
from gym_core.hub.cards import card_of, write_card
from gym_core.hub.report import CHECKS, CheckResult, ValidationReport

CATALOG = """\
# a comment at the top
envs:
  first:
    version: 0.1.0  # a trailing comment
    description: One.
    domain: test
    license: MIT
    server: tests.fixtures.echo_env:EchoServer
    datasets:
      example: echo.jsonl

  # a comment between entries
  second:
    version: 0.1.0
    description: Two.
    domain: test
    license: MIT
    server: tests.fixtures.echo_env:EchoServer
    datasets: {example: echo.jsonl}
"""


def passed_report(env: str) -> ValidationReport:
    checks = [CheckResult(name=name, status="passed") for name in CHECKS]
    report = ValidationReport(env=env, checks=checks, examples=7, cheats_tried=3, cheats_passed=3)
    report.verify_latency_ms = LatencyMs(p50=1.25, p99=3.5)
    return report


def test_a_card_is_written_in_place_and_replaced_by_the_next(tmp_path: Path) -> None:
    path = tmp_path / "rl_hub.yaml"
    path.write_text(CATALOG)
    first = card_of(passed_report("first"), Baseline(0.25, "tiny", failed=0, tasks=4))
    write_card(path, "first", first)
    write_card(path, "second", card_of(passed_report("second")))
    catalog = load_catalog(path)
    assert catalog.envs["first"].card == first
    assert first.baseline_tasks == 4
    assert first.validated_on == date.today()
    assert catalog.envs["second"].card is not None
    assert catalog.envs["second"].card.baseline_mean_reward is None

    again = first.model_copy(update={"baseline_mean_reward": 0.5})
    write_card(path, "first", again)
    assert load_catalog(path).envs["first"].card == again
    text = path.read_text()
    assert text.count("card:") == 2
    kept = [line for line in text.splitlines() if not line.startswith("    card:")]
    for line in CATALOG.splitlines():
        assert line in kept  # comments, blank lines and keys untouched
    assert text.index("  # a comment between entries") < text.index("  second:")


def test_a_failed_validation_gets_no_card_and_an_unknown_entry_is_named(tmp_path: Path) -> None:
    report = passed_report("first")
    report.checks[2] = CheckResult(name="reference", status="failed")
    with pytest.raises(ConfigError, match="first failed validation"):
        card_of(report)
    path = tmp_path / "rl_hub.yaml"
    path.write_text(CATALOG)
    with pytest.raises(ConfigError, match="no entry envs.third"):
        write_card(path, "third", card_of(passed_report("third")))
    assert path.read_text() == CATALOG
