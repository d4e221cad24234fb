"""The `reasoning-gym` package's registry, imported once (several seconds) with the
SyntaxWarnings of its dependencies' sources (cellpylib) silenced, so they do not fill every
log that imports it."""

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", SyntaxWarning)
    from reasoning_gym.factory import CURRICULA, DATASETS

__all__ = ["CURRICULA", "DATASETS"]
