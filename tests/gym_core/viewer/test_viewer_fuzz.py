"""The viewer's API fuzzed from its own OpenAPI schema, as the services are (tests/fuzz): any
request, valid or not, gets an answer that is no 5xx, and every 4xx names what was wrong."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import given
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.fixtures.serving import gym_view
from tests.fuzz.test_openapi import BUDGET, call
from tests.gym_core.viewer.conftest import indexed, state_when

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def viewer(results_file: Path) -> Iterator[str]:
    with gym_view(str(results_file)) as url:
        state_when(url, indexed)
        yield url


@pytest.mark.parametrize("mode", list(GenerationMode), ids=str)
def test_any_request_gets_an_answer_that_is_no_5xx(viewer: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{viewer}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:

        @BUDGET
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: Any) -> None:
            call(case, viewer)

        try:
            fuzz()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise
    with urllib.request.urlopen(f"{viewer}/healthz", timeout=10) as answer:
        assert answer.status == 200
