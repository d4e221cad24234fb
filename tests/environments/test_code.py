"""The code environment's parts: tasks and their tests, finding the code, comparing outputs,
grading in the real sandbox, and the bundled problems."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from environments.code.cases import CallCase, CodeTask, StdioCase
from environments.code.grading import extract_code, grade, outputs_match, values_match
from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.protocol import Task
from gym_core.tasks_file import load_tasks
from resources_server import VerifyTimeout
from resources_server.sandbox import Limits, Sandbox, SandboxSettings, create_sandbox
from tests.gym_core.test_protocol import peer_rows


def task(**fields: Any) -> CodeTask:
    return CodeTask.model_validate({"id": "t", **fields})


ADD_TESTS = [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "5 5\n", "stdout": "10\n"}]


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("Here:\n```python\nprint(1)\n```\nor better\n```python\nprint(2)\n```", "print(2)\n"),
        ("```py\nx = 1\n```", "x = 1\n"),
        ("```Python3 \nx = 3\n```", "x = 3\n"),
        ("```\nprint(1)\n```", None),
        ("```bash\nls\n```", None),
        ("print(1)", None),
    ],
)
def test_the_answer_is_the_last_python_block(answer: str, code: str | None) -> None:
    assert extract_code(answer) == code


@pytest.mark.parametrize(
    ("expected", "actual", "tolerance", "match"),
    [
        ("1 2\n3\n", "1 2   \n3", None, True),
        ("1\n2\n", "1\r\n2\r\n\n\n", None, True),
        ("1\n\n2\n", "1\n2\n", None, False),
        ("yes\n", "YES\n", None, False),
        ("0.5\n", "0.50\n", None, False),
        ("0.5\n", "0.50\n", 1e-9, True),
        ("2.3333333333\n", "2.333333\n", 1e-6, True),
        ("2.33\n", "2.34\n", 1e-6, False),
        ("a 1.0\n", "b 1.0\n", 1e-6, False),
        ("1 2\n", "1 2 3\n", 1e-6, False),
    ],
)
def test_outputs_are_compared_line_by_line(
    expected: str, actual: str, tolerance: float | None, match: bool
) -> None:
    assert outputs_match(expected, actual, tolerance) is match


@pytest.mark.parametrize(
    ("expected", "actual", "tolerance", "match"),
    [
        ([1, 2], json.loads(json.dumps((1, 2))), None, True),
        ({"1": ["a"]}, json.loads(json.dumps({1: ["a"]})), None, True),
        (1, True, None, False),
        (True, True, None, True),
        (1.5, 1.5000000001, None, False),
        (1.5, 1.5000000001, 1e-9, True),
        ([[0.1, 0.2]], [[0.1, 0.2000001]], 1e-9, False),
        (3, 3.0, None, True),
        ("3", 3, None, False),
    ],
)
def test_return_values_are_compared_as_json(
    expected: Any, actual: Any, tolerance: float | None, match: bool
) -> None:
    assert values_match(expected, actual, tolerance) is match


def test_tasks_take_stdio_or_call_tests() -> None:
    stdio = task(tests=ADD_TESTS)
    assert stdio.tests == [
        StdioCase(stdin="1 2\n", stdout="3\n"),
        StdioCase(stdin="5 5\n", stdout="10\n"),
    ]
    calls = task(fn_name="add", tests=[{"args": [1, 2], "expected": 3}])
    assert calls.tests == [CallCase(args=[1, 2], expected=3)]


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"tests": []}, "tests\n  List should have at least 1 item"),
        ({"tests": [{"args": [1], "expected": 1}]}, "fn_name is required"),
        ({"fn_name": "f", "tests": ADD_TESTS}, "every test must be a call"),
        ({"verifier_metadata": {}}, "verifier_metadata.unit_tests must be an object"),
        (
            {"verifier_metadata": {"unit_tests": {"inputs": ["1"], "outputs": []}}},
            "has 1 inputs but 0 outputs",
        ),
    ],
)
def test_bad_tasks_are_refused_naming_the_problem(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        task(**fields)


def test_nemo_unit_tests_become_tests() -> None:
    stdio = task(verifier_metadata={"unit_tests": {"inputs": ["1 2\n"], "outputs": ["3\n"]}})
    assert stdio.tests == [StdioCase(stdin="1 2\n", stdout="3\n")]
    functional = task(
        verifier_metadata={
            "unit_tests": {"fn_name": "add", "inputs": ["1\n[2, 3]"], "outputs": ["[3, 4]"]}
        }
    )
    assert functional.fn_name == "add"
    assert functional.tests == [CallCase(args=[1, [2, 3]], expected=[3, 4])]


def test_the_peer_rows_are_valid_tasks() -> None:
    rows = peer_rows("code_gen")
    assert len(rows) == 5
    for row in rows:
        fields = CodeTask.model_validate(Task.model_validate({**row, "env": "code"}).model_dump())
        assert all(isinstance(case, StdioCase) for case in fields.tests)
        assert len(fields.tests) == len(row["verifier_metadata"]["unit_tests"]["inputs"])


def bundled_tasks() -> list[Any]:
    entry = load_config(default_catalog_path()).envs["code"]
    return load_tasks(entry.example_path(), env="code")


def test_the_bundled_problems_are_valid() -> None:
    tasks = bundled_tasks()
    assert len(tasks) == 102
    assert len({row.id for row in tasks}) == len(tasks)
    assert {row.env_fields()["topic"] for row in tasks} == {
        "strings",
        "lists",
        "math",
        "algorithms",
    }
    kinds = {"stdio": 0, "call": 0}
    for row in tasks:
        fields = CodeTask.model_validate(row.model_dump())
        kinds["call" if fields.fn_name else "stdio"] += 1
        assert "```python" in str(row.prompt)
        assert row.env_fields()["solution"]
    assert kinds == {"stdio": 50, "call": 52}


@pytest.mark.slow
async def test_every_bundled_problem_is_solved_by_its_reference_solution(
    sandbox: Sandbox,
) -> None:
    async def failures(row: Any) -> list[str]:
        fields = CodeTask.model_validate(row.model_dump())
        results = await grade(sandbox, row.env_fields()["solution"], fields)
        return [
            f"{row.id} #{i}: {r.status} {r.detail}"
            for i, r in enumerate(results)
            if r.status != "passed"
        ]

    found = await asyncio.gather(*(failures(row) for row in bundled_tasks()))
    assert [failure for row in found for failure in row] == []


async def statuses(sandbox: Sandbox, code: str, fields: CodeTask) -> list[tuple[str, str]]:
    return [(result.status, result.detail) for result in await grade(sandbox, code, fields)]


async def test_each_stdio_test_gets_its_own_verdict(sandbox: Sandbox) -> None:
    tests = [*ADD_TESTS, {"stdin": "0 x\n", "stdout": "0\n"}]
    code = "a, b = map(int, input().split())\nprint(3 if a == 1 else a + b + 1)\n"
    assert await statuses(sandbox, code, task(tests=tests)) == [
        ("passed", ""),
        ("wrong_answer", "line 1: expected '10', got '11'"),
        ("runtime_error", "ValueError: invalid literal for int() with base 10: 'x'"),
    ]


async def test_a_compile_error_is_reported_for_every_test(sandbox: Sandbox) -> None:
    results = await statuses(sandbox, "print(1\n", task(tests=ADD_TESTS))
    assert [status for status, _ in results] == ["compile_error", "compile_error"]
    assert results[0][1].startswith("SyntaxError")


async def test_a_timeout_stops_the_grading(sandbox: Sandbox) -> None:
    code = "a, b = map(int, input().split())\nwhile a == 5:\n    pass\nprint(a + b)\n"
    tests = [*ADD_TESTS, {"stdin": "2 2\n", "stdout": "4\n"}]
    results = await statuses(sandbox, code, task(tests=tests))
    assert [status for status, _ in results] == ["passed", "timeout", "not_run"]


async def test_function_calls(sandbox: Sandbox) -> None:
    fields = task(
        fn_name="pair",
        tests=[{"args": [1, 2], "expected": [1, 2]}, {"args": [0, 0], "expected": [0, 0]}],
    )
    plain = "def pair(a, b):\n    print('chatty')\n    return (a, b)\n"
    assert await statuses(sandbox, plain, fields) == [("passed", ""), ("passed", "")]
    method = "class Solution:\n    def pair(self, a, b):\n        return [a, b]\n"
    assert await statuses(sandbox, method, fields) == [("passed", ""), ("passed", "")]
    wrong = "def pair(a, b):\n    return 1 / a\n"
    assert await statuses(sandbox, wrong, fields) == [
        ("wrong_answer", "expected [1, 2], got 1.0"),
        ("runtime_error", "ZeroDivisionError: division by zero"),
    ]
    missing = await statuses(sandbox, "def other():\n    pass\n", fields)
    assert missing[0] == (
        "runtime_error",
        "NameError: the solution defines no function 'pair' (nor Solution.pair)",
    )
    unserializable = await statuses(sandbox, "def pair(a, b):\n    return {a}\n", fields)
    assert unserializable[0][0] == "runtime_error"
    broken = await statuses(sandbox, "def pair(a, b)\n    return a\n", fields)
    assert [status for status, _ in broken] == ["compile_error", "compile_error"]
    exits = await statuses(sandbox, "import sys\ndef pair(a, b):\n    sys.exit(0)\n", fields)
    assert exits[0] == ("runtime_error", "SystemExit: 0")


def burn_cpu(seconds: float) -> None:
    """A process that keeps one core busy: what other rollouts do to a machine."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pass


@contextlib.contextmanager
def saturated_machine(busy_processes: int) -> Iterator[None]:
    context = multiprocessing.get_context("fork")
    hogs = [context.Process(target=burn_cpu, args=(120,)) for _ in range(busy_processes)]
    for hog in hogs:
        hog.start()
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.join()


@pytest.mark.slow
async def test_a_busy_machine_changes_no_test_status(sandbox: Sandbox) -> None:
    """Timeouts count the program's CPU time, so every verdict is the same on an idle machine
    and on one with three times as many busy processes as cores."""
    tests = [*ADD_TESTS, {"stdin": "0 x\n", "stdout": "0\n"}, {"stdin": "9 9\n", "stdout": "18\n"}]
    slow_but_right = (
        "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4:\n    pass\n"
    )
    code = (
        "a, b = map(int, input().split())\n"
        + slow_but_right
        + "while a == 9:\n    pass\nprint(a + b + (a == 5))\n"
    )
    fields = task(tests=tests)
    idle = [status for status, _ in await statuses(sandbox, code, fields)]
    with saturated_machine(3 * (os.cpu_count() or 1)):
        busy = [status for status, _ in await statuses(sandbox, code, fields)]
    assert idle == ["passed", "wrong_answer", "runtime_error", "timeout"]
    assert busy == idle


async def test_a_run_stopped_by_the_wall_clock_is_not_judged() -> None:
    sandbox = create_sandbox(SandboxSettings(limits=Limits(cpu_time_s=5, wall_time_s=0.5)))
    try:
        with pytest.raises(VerifyTimeout, match="wall-clock backstop"):
            await grade(sandbox, "import time\ntime.sleep(5)\n", task(tests=ADD_TESTS))
    finally:
        await sandbox.close()
