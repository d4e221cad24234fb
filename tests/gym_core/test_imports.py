"""Import strings and the collector paused while a process imports what it runs."""

from __future__ import annotations

import gc

import pytest

from gym_core.errors import ConfigError
from gym_core.imports import gc_paused, import_object


def test_an_import_string_names_an_object_or_says_what_is_missing() -> None:
    assert import_object("gym_core.imports:gc_paused") is gc_paused
    with pytest.raises(ConfigError, match="'gym_core.imports' has no attribute 'nope'"):
        import_object("gym_core.imports:nope")
    with pytest.raises(ConfigError, match="cannot import 'no_such_module'"):
        import_object("no_such_module:thing")


def test_collection_is_paused_inside_the_block_and_restored_after() -> None:
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still holds it
    assert gc.isenabled()
