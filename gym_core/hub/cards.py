"""Quality cards: what `gym hub validate` found and the baseline measured, as the catalog keeps it.

`gym hub publish` writes a card into a hub's catalog with the wheel it built; `gym hub card`
writes the built-in environments' cards into this checkout's `rl_hub.yaml`, in place: the
entry's `card:` block is replaced (or added at the entry's end) and every other line, comments
included, stays as it was.
"""

from __future__ import annotations

import fcntl
from datetime import date
from pathlib import Path

import yaml

from gym_core.catalog import QualityCard, load_catalog
from gym_core.config import GymConfig
from gym_core.errors import ConfigError
from gym_core.hub.baseline import Baseline, measure_baseline
from gym_core.hub.report import DEFAULT_VERIFY_LIMIT_S, ValidationReport

__all__ = ["card_of", "record_card", "write_card"]

ENTRY_INDENT = 2
"""Environments sit under `envs:` at this indent; their keys at twice it."""


def card_of(
    report: ValidationReport, baseline: Baseline | None = None, sha256: str | None = None
) -> QualityCard:
    """The card of a passed validation, with the baseline and the wheel's hash if there are."""
    if not report.passed or report.verify_latency_ms is None:
        raise ConfigError(f"{report.env} failed validation: it gets no quality card")
    card = QualityCard(
        validated=True,
        validated_on=date.today(),
        checks_passed=report.passed_checks(),
        examples=report.examples,
        verify_latency_ms=report.verify_latency_ms,
        cheats_tried=report.cheats_tried,
        cheats_passed=report.cheats_passed,
        wheel_sha256=sha256,
    )
    if baseline is None:
        return card
    return card.model_copy(
        update={
            "baseline_mean_reward": baseline.mean_reward,
            "baseline_policy": baseline.policy,
            "baseline_tasks": baseline.tasks,
            "baseline_failed": baseline.failed,
        }
    )


def record_card(
    config: GymConfig,
    name: str,
    catalog: Path,
    *,
    baseline_tasks: int | None,
    verify_limit_s: float = DEFAULT_VERIFY_LIMIT_S,
) -> tuple[ValidationReport, QualityCard | None]:
    """Validate `name`, measure its baseline on its first `baseline_tasks` example tasks (all
    of them for None, none for 0) and write its card into `catalog`; no card when it fails."""
    from gym_core.hub.validate import validate_env  # starts services: only now

    report = validate_env(config, name, verify_limit_s=verify_limit_s)
    if not report.passed:
        return report, None
    baseline = None if baseline_tasks == 0 else measure_baseline(config, name, baseline_tasks)
    card = card_of(report, baseline)
    write_card(catalog, name, card)
    return report, card


def write_card(catalog: Path, name: str, card: QualityCard) -> None:
    """Put `card` into the entry `name` of `catalog`, leaving every other line as it was.
    Several writers take turns (`gym hub card` runs for several environments at once)."""
    with catalog.open("r+") as locked:
        fcntl.flock(locked, fcntl.LOCK_EX)
        _write_card(catalog, name, card)


def _write_card(catalog: Path, name: str, card: QualityCard) -> None:
    lines = catalog.read_text().splitlines(keepends=True)
    start, end = _entry_span(lines, name, catalog)
    block = yaml.safe_dump(
        {"card": card.model_dump(mode="json", exclude_none=True)}, sort_keys=False, width=100
    )
    indent = " " * (2 * ENTRY_INDENT)
    new = [indent + line + "\n" for line in block.splitlines()]
    old = _card_span(lines, start, end)
    lines[old[0] : old[1]] = new
    catalog.write_text("".join(lines))
    written = load_catalog(catalog).envs[name].card
    if written != card:
        raise ConfigError(f"{catalog}: envs.{name}.card did not read back as written")


def _entry_span(lines: list[str], name: str, catalog: Path) -> tuple[int, int]:
    """Lines [start, end) of the entry `name`: its header and its keys, trailing blanks and
    comments left out."""
    header = " " * ENTRY_INDENT + f"{name}:"
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == header)
    except StopIteration:
        raise ConfigError(f"{catalog}: no entry envs.{name} to write a card into") from None
    end = start + 1
    for index in range(start + 1, len(lines)):
        text = lines[index]
        if text.strip() and _indent(text) <= ENTRY_INDENT:
            break
        if text.strip() and not text.lstrip().startswith("#"):
            end = index + 1
    return start, end


def _card_span(lines: list[str], start: int, end: int) -> tuple[int, int]:
    """Lines of the entry's `card:` block; an empty span at the entry's end when it has none."""
    key_indent = 2 * ENTRY_INDENT
    for index in range(start + 1, end):
        if lines[index].rstrip() == " " * key_indent + "card:":
            stop = index + 1
            while stop < end and (not lines[stop].strip() or _indent(lines[stop]) > key_indent):
                stop += 1
            return index, stop
    return end, end


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))
