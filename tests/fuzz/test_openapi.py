"""Property-based fuzzing of every service's OpenAPI schema, against the real services.

Schemathesis reads each service's `/openapi.json` and sends requests generated from it, valid
and invalid, over loopback. Whatever it sends, a service answers without a 5xx, every 4xx says
what was wrong (a 422 names each bad field's `loc`), and every service is still up afterwards.
The budget is a few examples per operation, so the whole module stays well under a minute.
"""

from __future__ import annotations

import os
import urllib.request
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.launch.local import Running
from gym_core.launch.plan import AGENT, POLICY, env_service_name
from tests.conftest import ECHO_ENVS
from tests.fuzz.conftest import FUZZED_ENVS
from tests.fuzz.schemas import completed_document

pytestmark = pytest.mark.slow  # about 20 s of CPU; 49 s of wall time on a busy 2-core machine

EXAMPLES_PER_OPERATION = int(os.environ.get("RL_GYM_FUZZ_EXAMPLES", "12"))
"""Per operation and mode; raise it for a deeper search (`RL_GYM_FUZZ_EXAMPLES=200`)."""
BUDGET = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
SEED_TASKS = {
    "echo": {"id": "fuzz", "env": "echo", "prompt": "Say hi.", "expected": "hi"},
    "math": {"id": "fuzz", "env": "math", "prompt": "What is 2+2?", "answer": "4"},
}
SERVICES = [AGENT, POLICY, *(env_service_name(env) for env in FUZZED_ENVS)]


class FourXxUnnamed(AssertionError):
    """A 4xx whose body does not say what was wrong."""


@schemathesis.check
def four_xx_names_the_problem(ctx: Any, response: schemathesis.Response, case: Any) -> None:
    """A 4xx is JSON with an `error` line; a validation error lists each problem with its
    `loc` (a service's own 4xx says in its line which field or value it refuses)."""
    if not 400 <= response.status_code < 500:
        return None
    body = response.json()
    if not (isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]):
        raise FourXxUnnamed(f"{response.status_code} without an `error` line: {body!r}")
    problems = body.get("detail")
    if isinstance(problems, list):
        for problem in problems:
            if not (isinstance(problem, dict) and problem.get("loc")):
                raise FourXxUnnamed(f"a problem naming no field: {problem!r}")
    return None


CHECKS = [not_a_server_error, four_xx_names_the_problem]


def call(case: Any, url: str) -> None:
    case.call_and_validate(base_url=url, checks=CHECKS, timeout=60)
    if case.path.endswith("/pause"):  # a fuzzed pause must not stall the operations after it
        requests.post(f"{url}{case.path.removesuffix('/pause')}/resume", json={}, timeout=60)


def seeded_session(url: str, env: str) -> str:
    """A live session, so that session operations get past the 404 of an unknown id."""
    answer = requests.post(f"{url}/sessions", json={"task": SEED_TASKS[env]}, timeout=60)
    answer.raise_for_status()
    return str(answer.json()["session_id"])


@pytest.mark.parametrize("mode", list(GenerationMode), ids=str)
@pytest.mark.parametrize("service", SERVICES)
def test_any_request_gets_an_answer_that_is_no_5xx(
    stack: Running, service: str, mode: GenerationMode
) -> None:
    url = stack.urls[service]
    env = service.removeprefix("env-") if service.startswith("env-") else None
    entry = (
        load_config(default_catalog_path(), None, {"envs": ECHO_ENVS}).envs[env] if env else None
    )
    schema = schemathesis.openapi.from_dict(
        completed_document(url, FUZZED_ENVS, entry, small_batches=mode is GenerationMode.POSITIVE)
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        fixed = {}
        if env is not None and "{session_id}" in operation.path:
            fixed["session_id"] = seeded_session(url, env)

        @BUDGET
        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
        def fuzz(case: Any) -> None:
            call(case, url)

        try:
            fuzz()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise  # else every input the operation takes is valid: nothing to get wrong


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_still_up(stack: Running, service: str) -> None:
    with urllib.request.urlopen(f"{stack.urls[service]}/healthz", timeout=10) as answer:
        assert answer.status == 200
