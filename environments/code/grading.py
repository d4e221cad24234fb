"""Grading a solution: find the code in the answer, run each test in the sandbox, compare.

Tests are bounded by the program's CPU time, so a busy machine never changes a verdict; a run
stopped by the generous wall-clock backstop instead (it waited, for a core or asleep) is not
judged at all: `VerifyTimeout`, and the rollout fails as `verify_timeout`.

Each test is its own sandbox run (a fresh process, as a judge runs it), one after another:
a rollout's tests never crowd out other rollouts' runs. A compile error stops the grading at
once (every test reports it), and so does a timeout (the remaining tests are `not_run`), so a
solution that hangs costs one time limit rather than one per test.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, JsonValue

from environments.code.cases import CallCase, CodeTask, StdioCase
from resources_server import VerifyTimeout
from resources_server.sandbox import PROGRAM_FILE, RunResult, Sandbox

__all__ = ["CaseResult", "extract_code", "grade", "outputs_match", "values_match"]

CaseStatus = Literal[
    "passed",
    "wrong_answer",
    "runtime_error",
    "compile_error",
    "timeout",
    "out_of_memory",
    "output_limit",
    "not_run",
]
DETAIL_CHARS = 200
HARNESS_FILE = "call_harness.py"
HARNESS_SOURCE = (Path(__file__).parent / HARNESS_FILE).read_bytes()

_CODE_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_COMPILE_ERROR = re.compile(r"^(SyntaxError|IndentationError|TabError)\b")


class CaseResult(BaseModel):
    status: CaseStatus
    detail: str = ""
    """What went wrong, in a line: the first differing line, the exception, the limit hit."""


def extract_code(text: str) -> str | None:
    """The last fenced ```python block of `text` (also ```py, ```python3), or None."""
    blocks = _CODE_BLOCK.findall(text)
    return blocks[-1] if blocks else None


async def grade(sandbox: Sandbox, code: str, task: CodeTask) -> list[CaseResult]:
    """One result per test of `task`, in order."""
    results: list[CaseResult] = []
    for case in task.tests:
        if isinstance(case, CallCase):
            assert task.fn_name is not None
            result = await _run_call(sandbox, code, task.fn_name, case, task.float_tolerance)
        else:
            result = await _run_stdio(sandbox, code, case, task.float_tolerance)
        results.append(result)
        remaining = len(task.tests) - len(results)
        if result.status == "compile_error":
            return results + [result] * remaining
        if result.status == "timeout":
            skipped = CaseResult(status="not_run", detail="an earlier test timed out")
            return results + [skipped] * remaining
    return results


async def _run_stdio(
    sandbox: Sandbox, code: str, case: StdioCase, tolerance: float | None
) -> CaseResult:
    run = await sandbox.run(program=code, stdin=case.stdin)
    failure = _limit_hit(run)
    if failure is not None:
        return failure
    if run.exit_code != 0:
        status: CaseStatus = "compile_error" if _is_compile_error(run.stderr) else "runtime_error"
        return CaseResult(status=status, detail=_last_words(run))
    difference = _first_difference(case.stdout, run.stdout, tolerance)
    if difference is None:
        return CaseResult(status="passed")
    return CaseResult(status="wrong_answer", detail=difference)


async def _run_call(
    sandbox: Sandbox, code: str, fn_name: str, case: CallCase, tolerance: float | None
) -> CaseResult:
    run = await sandbox.run(
        [sandbox.python, HARNESS_FILE, fn_name],
        files={PROGRAM_FILE: code, HARNESS_FILE: HARNESS_SOURCE},
        stdin=json.dumps(case.args),
    )
    failure = _limit_hit(run)
    if failure is not None:
        return failure
    report = _harness_report(run.stdout)
    if "compile_error" in report:
        return CaseResult(status="compile_error", detail=_clip(str(report["compile_error"])))
    if "returned" not in report:
        detail = str(report["error"]) if "error" in report else _last_words(run)
        return CaseResult(status="runtime_error", detail=_clip(detail))
    if values_match(case.expected, report["returned"], tolerance):
        return CaseResult(status="passed")
    detail = f"expected {json.dumps(case.expected)}, got {json.dumps(report['returned'])}"
    return CaseResult(status="wrong_answer", detail=_clip(detail))


def _limit_hit(run: RunResult) -> CaseResult | None:
    if run.wall_clock_stopped:
        raise VerifyTimeout(
            f"a test run was stopped by the wall-clock backstop after {run.wall_time_s:.0f}s "
            f"having used {run.cpu_time_s or 0:.1f}s of CPU time: it waited rather than "
            "computed, so it is not judged"
        )
    if run.timed_out:
        spent = f"{run.cpu_time_s:.1f}s of CPU time" if run.cpu_time_s is not None else "time"
        detail = f"stopped after {run.wall_time_s:.1f}s ({spent} used)"
        return CaseResult(status="timeout", detail=detail)
    if run.out_of_memory:
        return CaseResult(status="out_of_memory", detail=_last_words(run))
    if run.output_truncated:
        return CaseResult(status="output_limit", detail="wrote more output than allowed")
    return None


def _harness_report(stdout: str) -> dict[str, Any]:
    lines = stdout.rstrip("\n").rsplit("\n", 1)
    try:
        report = json.loads(lines[-1])
    except ValueError:
        return {}
    return report if isinstance(report, dict) else {}


def _is_compile_error(stderr: str) -> bool:
    """A syntax error reported before anything ran: no traceback, just the error."""
    lines = stderr.rstrip().splitlines()
    return (
        bool(lines)
        and _COMPILE_ERROR.match(lines[-1]) is not None
        and "Traceback (most recent call last)" not in stderr
    )


def _last_words(run: RunResult) -> str:
    lines = run.stderr.rstrip().splitlines()
    return _clip(lines[-1]) if lines else f"exit code {run.exit_code}"


def _clip(text: str) -> str:
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 3] + "..."


def outputs_match(expected: str, actual: str, tolerance: float | None = None) -> bool:
    """Whether a program's output is the expected one, line by line, ignoring trailing
    whitespace and trailing blank lines; with a `tolerance`, numbers may differ by that much."""
    return _first_difference(expected, actual, tolerance) is None


def _first_difference(expected: str, actual: str, tolerance: float | None) -> str | None:
    want, got = _lines(expected), _lines(actual)
    for number, (line, other) in enumerate(zip(want, got, strict=False), start=1):
        if line != other and not (tolerance is not None and _tokens_match(line, other, tolerance)):
            return _clip(f"line {number}: expected {line!r}, got {other!r}")
    if len(want) != len(got):
        return f"expected {len(want)} lines, got {len(got)}"
    return None


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _tokens_match(line: str, other: str, tolerance: float) -> bool:
    want, got = line.split(), other.split()
    return len(want) == len(got) and all(
        a == b or _numbers_close(a, b, tolerance) for a, b in zip(want, got, strict=True)
    )


def _numbers_close(a: str, b: str, tolerance: float) -> bool:
    try:
        return math.isclose(float(a), float(b), rel_tol=tolerance, abs_tol=tolerance)
    except ValueError:
        return False


def values_match(expected: JsonValue, actual: Any, tolerance: float | None = None) -> bool:
    """Whether a returned (JSON-decoded) value equals the expected one; with a `tolerance`,
    numbers may differ by that much, relatively or absolutely."""
    if tolerance is not None and _is_number(expected) and _is_number(actual):
        return math.isclose(expected, actual, rel_tol=tolerance, abs_tol=tolerance)  # type: ignore[arg-type]
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            values_match(e, a, tolerance) for e, a in zip(expected, actual, strict=True)
        )
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            values_match(expected[key], actual[key], tolerance) for key in expected
        )
    if isinstance(expected, bool) or isinstance(actual, bool):  # JSON's true is not 1
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
