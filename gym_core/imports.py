"""Objects named by import strings (`package.module:attribute`), as `rl_hub.yaml` names them."""

from __future__ import annotations

import importlib
from typing import Any

from gym_core.errors import ConfigError

__all__ = ["import_object"]


def import_object(import_string: str) -> Any:
    """The object `package.module:attribute` names; a `ConfigError` saying what is missing."""
    module_name, _, attribute = import_string.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(
            f"cannot import {module_name!r} (from {import_string!r}): {error}"
        ) from None
    target: Any = module
    for part in attribute.split(".") if attribute else []:
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"{module_name!r} has no attribute {attribute!r}") from None
    return target
