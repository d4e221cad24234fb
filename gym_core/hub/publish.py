"""`gym hub publish`: only environments that pass validation, each with its quality card.

1. Every environment of the project passes `gym hub validate`, or nothing is published: a
   verifier that pays for any of its own cheat probes is never published.
2. The project is built into a wheel, offline, and the wheel's SHA-256 is recorded.
3. With `baseline`, the configured policy's mean reward on the example tasks is measured.
4. Under a lock, the wheel is copied into the hub directory and each environment's entry, with
   its card, is added to the hub's `rl_hub.yaml` or replaces the earlier version's.

A hub is a directory, local or on a shared filesystem, holding `rl_hub.yaml` and the wheels it
names. A version is published once: other content under a version the hub already lists is
refused (bump `version` in the project's `rl_hub.yaml`); the same content again renews its card.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gym_core.catalog import CATALOG_FILENAME, EnvEntry, QualityCard, load_catalog, load_yaml
from gym_core.config import GymConfig
from gym_core.errors import ConfigError, GymError
from gym_core.hub.baseline import measure_baseline
from gym_core.hub.build import build_wheel, sha256_of
from gym_core.hub.cards import card_of
from gym_core.hub.report import DEFAULT_VERIFY_LIMIT_S, ValidationReport
from gym_core.hub.sources import hub_wheel
from gym_core.hub.validate import project_config, validate_env

__all__ = ["PublishRefused", "Published", "publish"]

HUB_HEADER = (
    "# An RL Gym hub, written by `gym hub publish`: the environments published here, each with\n"
    "# its wheel and quality card. Install one with `gym hub install NAME --hub DIR`, which\n"
    "# checks the wheel's SHA-256 against one you trust, then `gym serve NAME --hub DIR`.\n\n"
)
LOCK_FILENAME = ".rl_hub.lock"


class PublishRefused(GymError):
    """An environment failed validation, so nothing was published."""

    def __init__(self, reports: list[ValidationReport]) -> None:
        names = ", ".join(report.env for report in reports)
        super().__init__(f"{names} failed validation")
        self.reports = reports


@dataclass(frozen=True)
class Published:
    env: str
    wheel: Path
    card: QualityCard
    replaced: str | None
    """The version this one replaced in the hub, if any."""


def publish(
    project: Path,
    hub: Path,
    *,
    baseline: bool = False,
    overrides: dict[str, Any] | None = None,
    verify_limit_s: float = DEFAULT_VERIFY_LIMIT_S,
) -> list[Published]:
    """Validate, build and add every environment of `project` to `hub`.

    `overrides` are configuration layers as flags give them (e.g. the baseline's policy).
    """
    project = project.resolve()
    catalog = load_catalog(project / CATALOG_FILENAME)
    if not catalog.envs:
        raise ConfigError(f"{project / CATALOG_FILENAME}: lists no environment to publish")
    versions = {entry.version for entry in catalog.envs.values()}
    if len(versions) > 1:
        raise ConfigError(f"{project}: its environments must share one version (got {versions})")
    config = project_config(project, overrides)
    reports = {
        name: validate_env(config, name, verify_limit_s=verify_limit_s) for name in catalog.envs
    }
    failed = [report for report in reports.values() if not report.passed]
    if failed:
        raise PublishRefused(failed)
    with tempfile.TemporaryDirectory() as scratch:
        wheel = build_wheel(project, Path(scratch), envs=list(catalog.envs), version=versions.pop())
        sha256 = sha256_of(wheel)
        cards = {
            name: _card(report, sha256, config if baseline else None)
            for name, report in reports.items()
        }
        raw = load_yaml(project / CATALOG_FILENAME)["envs"]
        return _add_to_hub(hub, wheel, {name: raw[name] for name in catalog.envs}, cards)


def _card(report: ValidationReport, sha256: str, baseline_config: GymConfig | None) -> QualityCard:
    baseline = None if baseline_config is None else measure_baseline(baseline_config, report.env)
    return card_of(report, baseline, sha256)


def _add_to_hub(
    hub: Path, wheel: Path, entries: dict[str, dict[str, Any]], cards: dict[str, QualityCard]
) -> list[Published]:
    hub.mkdir(parents=True, exist_ok=True)
    path = hub / CATALOG_FILENAME
    with _locked(hub):
        listed = load_catalog(path).envs if path.exists() else {}
        listed_wheels = {
            entry.wheel: hub_wheel(hub, name, entry.wheel)  # never delete outside the hub
            for name, entry in listed.items()
            if entry.wheel
        }
        for name, card in cards.items():
            _check_not_republished(hub, name, entries[name], listed.get(name), card)
        _copy_atomically(wheel, hub / wheel.name)
        data = load_yaml(path) if path.exists() else {}
        envs = dict(data.get("envs") or {})
        published = []
        for name, card in cards.items():
            envs[name] = {
                **{k: v for k, v in entries[name].items() if k not in ("wheel", "card")},
                "wheel": wheel.name,
                "card": card.model_dump(exclude_none=True),
            }
            old = listed.get(name)
            replaced = old.version if old and old.version != entries[name]["version"] else None
            published.append(Published(name, hub / wheel.name, card, replaced))
        _write_catalog(path, {**data, "envs": envs})
        _remove_unlisted_wheels(listed_wheels, envs)
    return published


def _check_not_republished(
    hub: Path, name: str, entry: dict[str, Any], listed: EnvEntry | None, card: QualityCard
) -> None:
    if listed is None or listed.version != str(entry["version"]) or listed.card is None:
        return
    if listed.card.wheel_sha256 != card.wheel_sha256:
        raise ConfigError(
            f"{hub}: {name} {listed.version} is already published with other content; "
            "bump `version` in the project's rl_hub.yaml to publish a new one"
        )


def _remove_unlisted_wheels(before: dict[str, Path], after: dict[str, dict[str, Any]]) -> None:
    kept = {entry.get("wheel") for entry in after.values()}
    for wheel, path in before.items():
        if wheel not in kept:
            path.unlink(missing_ok=True)


def _write_catalog(path: Path, data: dict[str, Any]) -> None:
    text = HUB_HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _copy_atomically(source: Path, target: Path) -> None:
    temporary = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)


@contextlib.contextmanager
def _locked(hub: Path) -> Iterator[None]:
    """One publisher at a time per hub directory."""
    with (hub / LOCK_FILENAME).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
