"""A code task and its tests: stdin/stdout cases or function-call cases.

RL Gym rows list them under `tests`:

    {"tests": [{"stdin": "2 3\\n", "stdout": "5\\n"}]}
    {"fn_name": "add", "tests": [{"args": [2, 3], "expected": 5}]}

NeMo Gym's code rows keep them under `verifier_metadata.unit_tests` as parallel lists
`inputs` and `outputs` (stdin and expected stdout), or, with `fn_name`, in LiveCodeBench's
functional form (each input one JSON argument a line, each output a JSON value); they are
converted on the way in, so those rows run unchanged.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from resources_server import TaskFields

__all__ = ["CallCase", "CodeTask", "StdioCase"]


class StdioCase(BaseModel):
    """Run the program with `stdin`; it passes when it prints `stdout`."""

    model_config = ConfigDict(extra="forbid")

    stdin: str = ""
    stdout: str
    """Compared line by line, ignoring trailing whitespace and trailing blank lines."""


class CallCase(BaseModel):
    """Call the solution's `fn_name(*args)`; it passes when it returns `expected`."""

    model_config = ConfigDict(extra="forbid")

    args: list[JsonValue] = Field(default_factory=list)
    expected: JsonValue
    """Compared with the return value after a JSON round trip (a tuple equals a list)."""


class CodeTask(TaskFields):
    tests: Annotated[list[StdioCase | CallCase], Field(min_length=1)]
    fn_name: str | None = None
    """The function the solution must define (a top-level function, or a method of a class
    `Solution`); required exactly when the tests are function calls."""
    float_tolerance: Annotated[float, Field(ge=0)] | None = None
    """When set, numbers in the output (or the return value) may differ by this much,
    relatively or absolutely; otherwise they must be written exactly as expected."""

    @model_validator(mode="before")
    @classmethod
    def _accept_nemo_unit_tests(cls, data: Any) -> Any:
        if isinstance(data, dict) and "tests" not in data and "verifier_metadata" in data:
            metadata = data["verifier_metadata"]
            unit_tests = metadata.get("unit_tests") if isinstance(metadata, dict) else None
            if not isinstance(unit_tests, dict):
                raise ValueError("verifier_metadata.unit_tests must be an object")
            return {**data, **_from_unit_tests(unit_tests)}
        return data

    @model_validator(mode="after")
    def _one_kind_of_test(self) -> CodeTask:
        calls = sum(isinstance(case, CallCase) for case in self.tests)
        if self.fn_name is None and calls:
            raise ValueError("fn_name is required when the tests are function calls")
        if self.fn_name is not None and calls != len(self.tests):
            raise ValueError("with fn_name, every test must be a call (`args`, `expected`)")
        return self


def _from_unit_tests(unit_tests: dict[str, Any]) -> dict[str, Any]:
    inputs, outputs = unit_tests.get("inputs"), unit_tests.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise ValueError("verifier_metadata.unit_tests needs the lists `inputs` and `outputs`")
    if len(inputs) != len(outputs):
        raise ValueError(
            f"verifier_metadata.unit_tests has {len(inputs)} inputs but {len(outputs)} outputs"
        )
    fn_name = unit_tests.get("fn_name")
    if not fn_name:
        return {"tests": [{"stdin": i, "stdout": o} for i, o in zip(inputs, outputs, strict=True)]}
    tests = [
        {"args": _call_arguments(i), "expected": _json_value(o)}
        for i, o in zip(inputs, outputs, strict=True)
    ]
    return {"fn_name": fn_name, "tests": tests}


def _call_arguments(raw: Any) -> Any:
    """LiveCodeBench writes a call's arguments as one JSON value per line."""
    if isinstance(raw, str):
        return [json.loads(line) for line in raw.splitlines() if line.strip()]
    return raw


def _json_value(raw: Any) -> Any:
    return json.loads(raw) if isinstance(raw, str) else raw
