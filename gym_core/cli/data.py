"""`gym data generate calendar --n 1000 --seed 0 --difficulty hard --out tasks.jsonl`.

The environment's generator is named by its `rl_hub.yaml` entry (`generator`), so this module
never imports an environment directly. The same arguments always write the same file.
"""

from __future__ import annotations

import argparse
import difflib
import os
from pathlib import Path

import orjson
from pydantic import ValidationError

from gym_core.catalog import default_catalog_path
from gym_core.config import load_config, unknown_name_message
from gym_core.errors import ConfigError, format_validation_error
from gym_core.imports import import_object
from gym_core.protocol import Task

__all__ = ["DIFFICULTIES", "add_arguments", "run"]

DIFFICULTIES = ("easy", "medium", "hard")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    generate = actions.add_parser(
        "generate",
        help="write new tasks of an environment that has a generator",
        description="Write new tasks of an environment that has a generator (rl_hub.yaml "
        "`generator`). The same arguments always write the same tasks.",
    )
    generate.add_argument("env", metavar="ENV", help="the environment, e.g. calendar")
    generate.add_argument("--n", type=int, default=100, help="how many tasks (default 100)")
    generate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    generate.add_argument(
        "--difficulty", default="medium", help=f"{', '.join(DIFFICULTIES)} (default medium)"
    )
    generate.add_argument("--out", type=Path, required=True, help="the JSONL file to write")
    generate.add_argument("--config", type=Path, metavar="FILE", help="a YAML file of settings")


def run(args: argparse.Namespace) -> int:
    config = load_config(default_catalog_path(), args.config)
    if args.env not in config.envs:
        raise ConfigError(unknown_name_message("environment", args.env, list(config.envs)))
    entry = config.envs[args.env]
    if entry.generator is None:
        able = sorted(name for name, env in config.envs.items() if env.generator) or ["none"]
        raise ConfigError(
            f"environment {args.env!r} has no task generator (rl_hub.yaml envs.{args.env}."
            f"generator); environments with one: {', '.join(able)}"
        )
    if args.difficulty not in DIFFICULTIES:
        close = difflib.get_close_matches(args.difficulty, DIFFICULTIES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"--difficulty must be one of {', '.join(DIFFICULTIES)}, got {args.difficulty!r}."
            + hint
        )
    if args.n < 1:
        raise ConfigError(f"--n must be at least 1 (got {args.n})")
    generate = import_object(entry.generator)
    rows = generate(args.n, args.seed, args.difficulty)
    lines = []
    for number, row in enumerate(rows, start=1):
        row.setdefault("env", args.env)
        try:
            Task.model_validate(row)
        except ValidationError as error:
            source = f"{entry.generator} row {number}"
            raise ConfigError(format_validation_error(source, error)) from None
        lines.append(orjson.dumps(row) + b"\n")
    _write(args.out, b"".join(lines))
    print(
        f"wrote {len(lines)} {args.env} tasks (difficulty {args.difficulty}, seed {args.seed}) "
        f"to {args.out}"
    )
    return 0


def _write(path: Path, data: bytes) -> None:
    """All or nothing: a failed run never leaves half a file behind."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ConfigError(f"--out {path}: cannot write: {error.strerror}") from None
