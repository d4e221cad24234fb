"""The `gym` command. Each subcommand lives in its own module and is imported only when run,
so `gym --help` and `gym serve` start fast."""

from __future__ import annotations

import argparse
import importlib
import sys

from gym_core.errors import GymError
from gym_core.imports import gc_paused

__all__ = ["main"]

COMMANDS = {
    "serve": ("gym_core.cli.serve", "serve environments: the rollout endpoint and its services"),
    "rollout": ("gym_core.cli.rollout", "collect rollouts of an environment's tasks into JSONL"),
    "data": ("gym_core.cli.data", "make task data: `gym data generate ENV --out FILE`"),
    "hub": ("gym_core.cli.hub", "find, write, validate and publish environments"),
    "status": ("gym_core.cli.status", "watch a running stack: rollouts, rewards, stage times"),
    "view": ("gym_core.cli.view", "browse results files in a local web page, live"),
}


def build_parser(command: str | None) -> argparse.ArgumentParser:
    """The parser, with the options of `command` only: its module is the only one imported."""
    parser = argparse.ArgumentParser(
        prog="gym", description="RL Gym: reinforcement-learning environments for language models."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with gc_paused():
        args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except GymError as error:
        print(f"gym {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
