"""`gym hub ...`: find environments, write new ones, validate and publish them."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from gym_core.catalog import (
    CATALOG_FILENAME,
    EnvEntry,
    QualityCard,
    default_catalog_path,
    load_catalog,
)
from gym_core.cli.options import (
    HUB_ENV,
    add_hub_argument,
    hub_trust,
    install_published,
    load_sources,
    policy_overrides,
)
from gym_core.config import GymConfig, load_config, select_envs
from gym_core.errors import ConfigError
from gym_core.hub.pins import pins_path
from gym_core.hub.sources import BUILT_IN

__all__ = ["add_arguments", "run"]

LIST_WIDTH = 160
FOLDED_COLUMNS = ("tags", "from", "description")
"""The columns of `gym hub list` that fold when the table is too wide; the rest stay whole."""
"""`gym hub list` is printed at least this wide (piped output included): narrower, the
descriptions fold into a word a line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="hub_command", required=True, metavar="SUBCOMMAND")

    listing = _command(commands, "list", "a table of the environments", _list)
    listing.add_argument("--domain", help="only environments of this domain")
    listing.add_argument("--tag", help="only environments with this tag")
    add_hub_argument(listing)

    show = _command(commands, "show", "an environment's entry and quality card", _show)
    show.add_argument("name", metavar="NAME")
    add_hub_argument(show)

    new = _command(commands, "new", "scaffold a working environment project", _new)
    new.add_argument("name", metavar="NAME", help="the environment's name, e.g. word_count")
    new.add_argument("--dir", type=Path, default=Path(), help="where to create it (default: .)")

    install = _command(
        commands, "install", "install a published environment, checking its SHA-256", _install
    )
    install.add_argument("name", metavar="NAME")
    install.add_argument(
        "--sha256",
        type=_sha256,
        metavar="HEX",
        help="the SHA-256 you expect the wheel to have (from its maintainer); it is pinned",
    )
    install.add_argument(
        "--yes",
        action="store_true",
        help="trust a wheel nothing vouches for yet without asking, and pin its SHA-256",
    )
    add_hub_argument(install)

    validate = _command(commands, "validate", "check an environment without a model", _validate)
    validate.add_argument(
        "target", metavar="PATH_OR_NAME", help="an environment project directory, or a name"
    )
    _add_verify_limit(validate)
    add_hub_argument(validate)

    publish = _command(commands, "publish", "validate, build and add to a hub", _publish)
    publish.add_argument("project", type=Path, metavar="PATH", help="the environment project")
    publish.add_argument(
        "--hub", type=Path, metavar="DIR", help=f"the hub directory (default: ${HUB_ENV})"
    )
    publish.add_argument(
        "--baseline",
        action="store_true",
        help="measure the policy's mean reward on the example tasks for the card",
    )
    _add_policy_arguments(publish)
    _add_verify_limit(publish)

    card = _command(
        commands,
        "card",
        "validate built-in environments and write their quality cards into rl_hub.yaml",
        _record_cards,
    )
    card.add_argument("envs", metavar="ENVS", help="built-in environments, e.g. math,code, or all")
    card.add_argument(
        "--baseline-tasks",
        type=int,
        metavar="N",
        help="measure the baseline on the first N example tasks only (default: all; 0: none)",
    )
    _add_policy_arguments(card)
    _add_verify_limit(card)

    readme = _command(commands, "readme", "write the README's environment table", _readme)
    readme.add_argument("--check", action="store_true", help="only check it is up to date")


def run(args: argparse.Namespace) -> int:
    return int(args.hub_run(args))


def _command(commands: Any, name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=help_text, description=help_text
    )
    parser.set_defaults(hub_run=run)
    return parser


def _add_policy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy-url",
        action="append",
        metavar="URL",
        help="the baseline's OpenAI-compatible engine (default: the embedded CPU model)",
    )
    parser.add_argument("--policy-model", metavar="NAME", help="the baseline's model name")


def _add_verify_limit(parser: argparse.ArgumentParser) -> None:
    from gym_core.hub.report import DEFAULT_VERIFY_LIMIT_S

    parser.add_argument(
        "--verify-limit-s",
        type=float,
        default=DEFAULT_VERIFY_LIMIT_S,
        metavar="S",
        help=f"the longest a verify call may take (default {DEFAULT_VERIFY_LIMIT_S:g})",
    )


def _catalog(args: argparse.Namespace) -> tuple[GymConfig, dict[str, str]]:
    """Every environment, and where each comes from."""
    sources = load_sources(args)
    config = load_config(default_catalog_path(), None, None, sources)
    origins = dict.fromkeys(config.envs, BUILT_IN)
    for source in sources:
        origins.update(dict.fromkeys(source.envs, source.label))
    return config, origins


def _list(args: argparse.Namespace) -> int:
    config, origins = _catalog(args)
    table = Table(title="RL Gym environments")
    columns = ("name", "version", "domain", "tags", "validated", "baseline", "from", "description")
    for column in columns:  # a name is what the user types next: it is never broken
        table.add_column(column, overflow="fold", no_wrap=column not in FOLDED_COLUMNS)
    for name, entry in sorted(config.envs.items()):
        if args.domain and entry.domain != args.domain:
            continue
        if args.tag and args.tag not in entry.tags:
            continue
        validated = str(entry.card.validated_on) if entry.card else "-"
        table.add_row(
            name,
            entry.version,
            entry.domain,
            ", ".join(entry.tags),
            validated,
            _baseline_cell(entry.card),
            origins[name],
            _first_sentence(entry.description),
        )
    Console(width=max(LIST_WIDTH, Console().width)).print(table)
    return 0


def _baseline_cell(card: QualityCard | None) -> str:
    """The baseline's mean reward, and on how many example tasks (`gym hub show` says more)."""
    if card is None or card.baseline_policy is None:
        return "-"
    mean = "none" if card.baseline_mean_reward is None else f"{card.baseline_mean_reward:.2f}"
    return mean if card.baseline_tasks is None else f"{mean} on {card.baseline_tasks}"


def _show(args: argparse.Namespace) -> int:
    config, origins = _catalog(args)
    [name] = select_envs(config, args.name)
    entry = config.envs[name]
    print(f"{name} {entry.version}  ({origins[name]})\n{entry.description}\n")
    _print_section(
        "entry",
        {
            "domain": entry.domain,
            "tags": ", ".join(entry.tags) or "-",
            "license": entry.license,
            "server": entry.server,
            "agent": entry.agent.model_dump_json(exclude_defaults=True),
            "example tasks": entry.datasets.example,
            "solutions": entry.datasets.solutions or "-",
            "cheat probes": entry.datasets.cheats or "-",
            "full data": entry.datasets.full or "-",
            "wheel": entry.wheel or "- (served from source)",
        },
    )
    _print_section("quality card", _card_rows(entry))
    return 0


def _card_rows(entry: EnvEntry) -> dict[str, str]:
    card = entry.card
    if card is None:
        return {"validated": "not published: no card yet"}
    baseline = "not measured" if card.baseline_policy is None else _baseline_text(card)
    return {
        "validated": f"{card.validated} on {card.validated_on}",
        "checks passed": ", ".join(card.checks_passed),
        "examples": str(card.examples),
        "cheat probes": _cheats_row(card),
        "verify latency": f"p50 {card.verify_latency_ms.p50:g} ms, "
        f"p99 {card.verify_latency_ms.p99:g} ms",
        "baseline mean reward": baseline,
        "wheel sha256": card.wheel_sha256 or "-",
    }


def _cheats_row(card: QualityCard) -> str:
    if card.cheats_tried is None:
        return "not run (the card predates cheat probes)"
    return f"{card.cheats_tried} tried, {card.cheats_passed} earned nothing"


def _print_section(title: str, rows: dict[str, str]) -> None:
    """Plain lines, so that paths and hashes are never wrapped."""
    width = max(len(key) for key in rows)
    print(title)
    for key, value in rows.items():
        print(f"  {key:{width}}  {value}")


def _new(args: argparse.Namespace) -> int:
    from gym_core.hub.scaffold import scaffold

    project = scaffold(args.name, args.dir)
    steps = {
        f"cd {project}": "",
        "gym hub validate .": "check it (no model needed)",
        f"gym serve {args.name} --hub .": "serve it from source",
        "gym hub publish . --hub DIR": "publish it with its quality card",
    }
    width = max(len(command) for command in steps)
    print(f"created {project}: the environment {args.name!r}, ready to serve. Next:")
    for command, what in steps.items():
        print(f"  {command:{width}}  {what}".rstrip())
    return 0


def _sha256(text: str) -> str:
    if re.fullmatch(r"[0-9a-fA-F]{64}", text) is None:
        raise argparse.ArgumentTypeError(f"expected 64 hexadecimal digits, got {text!r}")
    return text.lower()


def _install(args: argparse.Namespace) -> int:
    config, origins = _catalog(args)
    [name] = select_envs(config, args.name)
    entry = config.envs[name]
    if entry.wheel is None:
        print(f"{name} is not a published wheel ({origins[name]}): nothing to install")
        return 0
    from gym_core.hub.install import ensure_installed

    confirm = (lambda wheel: True) if args.yes else _ask
    if not ensure_installed(name, entry, hub_trust(args), confirm):
        print(f"{name} {entry.version} is already installed")
        return 0
    print(f"installed {name} {entry.version}; its SHA-256 is pinned in {pins_path()}")
    return 0


def _ask(wheel: str) -> bool:
    """Trust on first use, asked of a person at a terminal only."""
    if not sys.stdin.isatty():
        return False
    answer = input(f"Nothing you trust vouches for {wheel}. Install it and pin its hash? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _validate(args: argparse.Namespace) -> int:
    from gym_core.hub.validate import validate_env, validate_project

    target = Path(args.target)
    if (target / CATALOG_FILENAME).is_file():
        reports = validate_project(target, verify_limit_s=args.verify_limit_s)
    else:
        config, _ = _catalog(args)
        [name] = select_envs(config, args.target)
        install_published(config, [name], args)
        reports = [validate_env(config, name, verify_limit_s=args.verify_limit_s)]
    for report in reports:
        print(report.explain())
    return 0 if all(report.passed for report in reports) else 1


def _publish(args: argparse.Namespace) -> int:
    from gym_core.hub.publish import PublishRefused, publish

    hub = args.hub or (Path(os.environ[HUB_ENV]) if os.environ.get(HUB_ENV) else None)
    if hub is None:
        raise ConfigError(f"name the hub directory to publish to: --hub DIR (or set ${HUB_ENV})")
    try:
        published = publish(
            args.project,
            hub,
            baseline=args.baseline,
            overrides=policy_overrides(args),
            verify_limit_s=args.verify_limit_s,
        )
    except PublishRefused as refused:
        for report in refused.reports:
            print(report.explain())
        print(f"gym hub publish: refused: {refused}; nothing was published")
        return 1
    for item in published:
        replaced = f" (replacing {item.replaced})" if item.replaced else ""
        card = item.card
        baseline = ""
        if card.baseline_mean_reward is not None:
            baseline = f", baseline mean reward {card.baseline_mean_reward:.3f}"
        print(
            f"published {item.env}{replaced} to {hub}: {item.wheel.name} "
            f"(sha256 {card.wheel_sha256}), {card.examples} examples, verify p50 "
            f"{card.verify_latency_ms.p50:g} ms / p99 {card.verify_latency_ms.p99:g} ms{baseline}"
        )
    return 0


def _record_cards(args: argparse.Namespace) -> int:
    from gym_core.hub.cards import record_card

    if args.baseline_tasks is not None and args.baseline_tasks < 0:
        raise ConfigError(f"--baseline-tasks must be 0 or more (got {args.baseline_tasks})")
    catalog = default_catalog_path()
    config = load_config(catalog, None, policy_overrides(args))
    built_in = load_catalog(catalog).envs
    names = select_envs(config, args.envs)
    for name in names:
        if name not in built_in:
            raise ConfigError(f"{name} is not a built-in environment: publish it to a hub instead")
    failed = 0
    for name in names:
        report, card = record_card(
            config,
            name,
            catalog,
            baseline_tasks=args.baseline_tasks,
            verify_limit_s=args.verify_limit_s,
        )
        if card is None:
            print(report.explain())
            failed += 1
            continue
        print(f"{name}: card written to {catalog}: baseline {_baseline_text(card)}")
    return 1 if failed else 0


def _baseline_text(card: QualityCard) -> str:
    if card.baseline_policy is None:
        return "not measured"
    mean = card.baseline_mean_reward
    text = f"{'none scored' if mean is None else f'{mean:.4f}'} ({card.baseline_policy})"
    if card.baseline_tasks is not None:
        text += f" on the first {card.baseline_tasks} example tasks"
    if card.baseline_failed:
        text += f", {card.baseline_failed} of them failed"
    return text


def _readme(args: argparse.Namespace) -> int:
    from gym_core.hub.readme import README_FILENAME, render_readme

    catalog_path = default_catalog_path()
    readme = catalog_path.parent / README_FILENAME
    if not readme.is_file():
        raise ConfigError(f"no {README_FILENAME} next to {catalog_path}: run this in a checkout")
    current = readme.read_text()
    wanted = render_readme(current, load_catalog(catalog_path))
    if args.check:
        if current != wanted:
            print(f"{readme}: the environment table is out of date: run `gym hub readme`")
            return 1
        return 0
    if current != wanted:
        readme.write_text(wanted)
        print(f"updated the environment table of {readme}")
    return 0


def _first_sentence(text: str) -> str:
    sentence, dot, _ = text.partition(". ")
    return sentence + dot.strip()
