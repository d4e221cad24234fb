"""Reading task rows from a JSONL file, in RL Gym's format or NeMo Gym's."""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import ValidationError

from gym_core.errors import ConfigError, format_validation_error
from gym_core.protocol import Task

__all__ = ["load_tasks"]


def load_tasks(path: Path, *, env: str | None = None, limit: int | None = None) -> list[Task]:
    """The tasks of a JSONL file; rows without an `env` get `env`.

    Raises a `ConfigError` naming the line and the field of the first bad row.
    """
    try:
        lines = path.read_bytes().splitlines()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    tasks: list[Task] = []
    for number, line in enumerate(lines, start=1):
        if limit is not None and len(tasks) >= limit:
            break
        if not line.strip():
            continue
        source = f"{path} line {number}"
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise ConfigError(f"{source}: not valid JSON: {error}") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{source}: expected a JSON object")
        if env is not None:
            row.setdefault("env", env)
        elif "env" not in row:
            raise ConfigError(f"{source}: env: missing (pass --env NAME for rows without one)")
        try:
            tasks.append(Task.model_validate(row))
        except ValidationError as error:
            raise ConfigError(format_validation_error(source, error)) from None
    return tasks
