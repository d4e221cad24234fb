"""Reference solutions: how an environment proves, without a model, that its verifier works.

Every environment ships a JSONL file next to its example tasks and names it in its hub entry
(`datasets.solutions`). It has one row per example task, keyed by the task's id:

    {"id": "math-001", "reference": "\\boxed{66}", "wrong": "\\boxed{66 + 1}"}

`reference` must earn reward 1 and `wrong` reward 0. Each is either the final assistant
message (a string) or a list of steps that `gym hub validate` plays against the resources
server in order, as an agent would:

    {"call": "count_letter", "arguments": {"word": "banana", "letter": "a"}}   a tool call
    {"say": "There are \\boxed{3}."}                                            an assistant message
    {"answer_call": "record_city", "arguments": {"name": "Oslo"}}          a call that is the answer

An `answer_call` is a tool call the environment does not run (`agent.run_tool_calls: false`:
structured output through a tool); it ends the attempt (answer calls in a row make one
message with several calls), and the verifier reads it. Its `arguments` may be a string, to
play arguments that are not valid JSON.

The last `say` is the final assistant message the verifier reads. In an interactive
environment (one with `respond`), every `say` but the last is followed by the environment's
reply, as in a real episode. A good `wrong` answer is a plausible near miss (the right form,
the wrong value), so that a verifier which accepts anything well-formed is caught.

Cheat probes live in a second file (`datasets.cheats`): attempts that game a verifier instead
of solving the task, every one of which must earn reward 0. A row names its task and the kind
of cheat, and holds an attempt of the same shape:

    {"id": "math-001", "cheat": "restate_question", "attempt": "\\boxed{37 + 48 - 19}"}

A task may have several cheats, or none; the kinds are the environment's own (echoing the
prompt, an empty answer, an answer that covers every option, a program that reads the
expected output from its surroundings, tool calls that should not pay...).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, NamedTuple, TypeVar

import orjson
from pydantic import Field, JsonValue, ValidationError

from gym_core.errors import ConfigError, format_validation_error
from gym_core.protocol import Model

__all__ = [
    "AnswerCallStep",
    "Attempt",
    "Cheat",
    "DataFiles",
    "SayStep",
    "Solution",
    "Step",
    "ToolStep",
    "cheats_jsonl",
    "data_files",
    "load_cheats",
    "load_solutions",
    "solutions_jsonl",
    "steps_of",
]


class ToolStep(Model):
    """The assistant calls a tool."""

    call: Annotated[str, Field(min_length=1)]
    arguments: dict[str, JsonValue] = Field(default_factory=dict)


class AnswerCallStep(Model):
    """The assistant answers with a tool call that is not run."""

    answer_call: Annotated[str, Field(min_length=1)]
    arguments: dict[str, JsonValue] | str = Field(default_factory=dict)


class SayStep(Model):
    """The assistant says something (the last one is its final answer)."""

    say: str


RowT = TypeVar("RowT", bound=Model)
Step = ToolStep | SayStep | AnswerCallStep
Attempt = str | Annotated[list[Step], Field(min_length=1)]


class Solution(Model):
    """How to earn reward 1 (`reference`) and reward 0 (`wrong`) on one example task."""

    id: str
    reference: Attempt
    wrong: Attempt


class Cheat(Model):
    """An attempt that games the verifier on one example task: it must earn reward 0."""

    id: str
    cheat: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    """The kind of cheat, in snake_case (`echo_prompt`, `empty_box`, ...)."""
    attempt: Attempt


def steps_of(attempt: Attempt) -> list[Step]:
    """An attempt as steps: a bare string is one final message."""
    return [SayStep(say=attempt)] if isinstance(attempt, str) else attempt


def load_solutions(path: Path) -> dict[str, Solution]:
    """The solutions in `path` by task id; a `ConfigError` naming the line and the field."""
    solutions: dict[str, Solution] = {}
    for source, solution in _rows(path, Solution):
        if solution.id in solutions:
            raise ConfigError(f"{source}: a second solution for task {solution.id!r}")
        solutions[solution.id] = solution
    return solutions


def load_cheats(path: Path) -> list[Cheat]:
    """The cheat probes in `path`, in file order; a `ConfigError` naming the line and the
    field."""
    cheats: list[Cheat] = []
    seen: set[tuple[str, str]] = set()
    for source, cheat in _rows(path, Cheat):
        if (cheat.id, cheat.cheat) in seen:
            raise ConfigError(f"{source}: a second cheat {cheat.cheat!r} for task {cheat.id!r}")
        seen.add((cheat.id, cheat.cheat))
        cheats.append(cheat)
    return cheats


def _rows(path: Path, model: type[RowT]) -> Iterator[tuple[str, RowT]]:
    """Each non-blank line of `path` as `model`, with where it came from."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        source = f"{path} line {number}"
        try:
            yield source, model.model_validate(orjson.loads(line))
        except orjson.JSONDecodeError as error:
            raise ConfigError(f"{source}: not valid JSON: {error}") from None
        except ValidationError as error:
            raise ConfigError(format_validation_error(source, error)) from None


class DataFiles(NamedTuple):
    """An environment's bundled tasks and the solutions and cheat probes played on them."""

    tasks: Path
    solutions: Path
    cheats: Path

    def write(
        self,
        *,
        solutions: Iterable[Solution],
        cheats: Iterable[Cheat],
        tasks: Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        """Rewrite the files; the tasks file only when `tasks` is given (some scripts read it)."""
        if tasks is not None:
            self.tasks.write_bytes(tasks_jsonl(tasks))
        self.solutions.write_bytes(solutions_jsonl(solutions))
        self.cheats.write_bytes(cheats_jsonl(cheats))


def data_files(module_file: str, prefix: str = "") -> DataFiles:
    """`data/{prefix}tasks.jsonl` and its two companions beside the module `module_file` (the
    script that writes them passes its `__file__`)."""
    data = Path(module_file).parent / "data"
    return DataFiles(*(data / f"{prefix}{kind}.jsonl" for kind in DataFiles._fields))


def solutions_jsonl(solutions: Iterable[Solution]) -> bytes:
    """`solutions` as a solutions file, one row a line: what scripts that make them write."""
    return _jsonl(solutions)


def cheats_jsonl(cheats: Iterable[Cheat]) -> bytes:
    """`cheats` as a cheats file, one row a line: what scripts that make them write."""
    return _jsonl(cheats)


def tasks_jsonl(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """Task rows as a tasks file, one row a line: what scripts that generate datasets write."""
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def _jsonl(rows: Iterable[Model]) -> bytes:
    return b"".join(orjson.dumps(row.model_dump(mode="json")) + b"\n" for row in rows)
