"""Objects named by import strings (`package.module:attribute`), as `rl_hub.yaml` names them,
and the garbage collector kept out of the way while a process imports what it runs."""

from __future__ import annotations

import contextlib
import gc
import importlib
from collections.abc import Iterator
from typing import Any

from gym_core.errors import ConfigError

__all__ = ["gc_paused", "import_object"]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No garbage collection inside the block. Importing modules and building apps makes many
    objects and next to no garbage, and the collections their number sets off cost a fifth of
    the CPU time of importing the services (0.45-0.56 s instead of 0.54-0.76 s here). A
    process forked inside the block starts with collection off: it turns it on itself
    (`gym_core.service.serve`)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
