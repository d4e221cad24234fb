"""The reference solutions and cheat probes `gym hub validate` plays on the bundled problems,
made from each problem's own `solution` and tests:

    python -m environments.code.make_solutions

rewrites `data/solutions.jsonl` and `data/cheats.jsonl` (the `code` entry), and
`data/tools_solutions.jsonl` and `data/tools_cheats.jsonl` (`code_tools`). The reference
answers with the problem's solution in a ```python block; in `code_tools` it first tries that
code on the first test with `run_python`, as a careful model would. The wrong answer is a
program of the right shape that prints nothing (or a function that returns None), so a
verifier that rewards any code block is caught.

The cheats, on every `CHEAT_EVERY`-th problem, each of which must earn 0:

    echo_prompt         the problem statement, no code
    bare_fence          an empty ```python block
    echo_input          prints its input back (returns its first argument)
    hardcoded_example   prints the first test's answer whatever the input, as a policy that
                        copies the example of the statement would
    every_answer        prints the answers of all the tests (returns them all)
    equals_anything     returns a list that claims to equal anything (function calls)
    snoop               looks for the expected answer in its surroundings (`snoop.py`)
    tool_output_only    (`code_tools`) runs the right program with `run_python`, then answers
                        without code
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import JsonValue

from environments.code.cases import CallCase, CodeTask, StdioCase
from gym_core.hub.solutions import (
    Attempt,
    Cheat,
    SayStep,
    Solution,
    ToolStep,
    data_files,
)
from gym_core.protocol import Task
from gym_core.tasks_file import load_tasks

__all__ = [
    "CHEATS",
    "PROBLEMS",
    "SOLUTIONS",
    "TOOLS_CHEATS",
    "TOOLS_SOLUTIONS",
    "cheats",
    "solutions",
]

DATA = Path(__file__).parent / "data"
PROBLEMS = DATA / "problems.jsonl"
SOLUTIONS = DATA / "solutions.jsonl"
TOOLS_SOLUTIONS = DATA / "tools_solutions.jsonl"
CHEATS = DATA / "cheats.jsonl"
TOOLS_CHEATS = DATA / "tools_cheats.jsonl"
CHEAT_EVERY = 6
SNOOP_SOURCE = (Path(__file__).parent / "snoop.py").read_text()
SNOOP_CALL = 'answer_for("args", "expected", list(args))'


def solutions(*, tools: bool) -> list[Solution]:
    """The solutions of `code` (or, with `tools`, of `code_tools`) for the bundled problems."""
    made = []
    for task in load_tasks(PROBLEMS, env="code"):
        problem = CodeTask.model_validate(task.model_dump())
        program: str = task.env_fields()["solution"]
        answer = answer_with(program)
        reference: Attempt = (
            [
                ToolStep(call="run_python", arguments=trial_run(program, problem)),
                SayStep(say=answer),
            ]
            if tools
            else answer
        )
        wrong = answer_with(wrong_program(problem))
        made.append(Solution(id=task.id, reference=reference, wrong=wrong))
    return made


def answer_with(program: str) -> str:
    """A final message whose last ```python block is `program`."""
    return f"Here is my solution:\n\n```python\n{program.rstrip()}\n```\n"


def trial_run(program: str, problem: CodeTask) -> dict[str, JsonValue]:
    """`run_python` arguments that run `program` on the problem's first test (a function's
    return value is printed as JSON)."""
    case = problem.tests[0]
    if isinstance(case, CallCase):
        call = f"print(json.dumps({problem.fn_name}(*json.loads({json.dumps(case.args)!r}))))"
        return {"code": f"import json\n\n{program.rstrip()}\n\n{call}\n", "stdin": ""}
    return {"code": program, "stdin": case.stdin}


def wrong_program(problem: CodeTask) -> str:
    """A program that runs cleanly and answers nothing."""
    if problem.fn_name is not None:
        return f"def {problem.fn_name}(*args):\n    return None\n"
    return "import sys\n\nsys.stdin.read()\n"


def cheats(*, tools: bool) -> list[Cheat]:
    """The cheat probes of `code` (or, with `tools`, of `code_tools`) for every
    `CHEAT_EVERY`-th bundled problem."""
    made = []
    for task in load_tasks(PROBLEMS, env="code")[::CHEAT_EVERY]:
        problem = CodeTask.model_validate(task.model_dump())
        attempts: dict[str, Attempt] = {"echo_prompt": _prompt(task)}
        programs = _cheat_programs(problem)
        attempts |= {kind: answer_with(program) for kind, program in programs.items()}
        attempts["bare_fence"] = "```python\n```\n"
        if tools:
            program: str = task.env_fields()["solution"]
            attempts["tool_output_only"] = [
                ToolStep(call="run_python", arguments=trial_run(program, problem)),
                SayStep(say="The run above prints the right answer."),
            ]
        made += [
            Cheat(id=task.id, cheat=kind, attempt=attempt) for kind, attempt in attempts.items()
        ]
    return made


def _cheat_programs(problem: CodeTask) -> dict[str, str]:
    """The cheats that answer with a program, by kind."""
    if problem.fn_name is not None:
        answers = [case.expected for case in problem.tests if isinstance(case, CallCase)]

        def returning(value: str) -> str:
            return f"def {problem.fn_name}(*args):\n    return {value}\n"

        return {
            "echo_input": returning("args[0] if args else None"),
            "hardcoded_example": f"import json\n\n\n{returning(_literal(answers[0]))}",
            "every_answer": f"import json\n\n\n{returning(_literal(answers))}",
            "equals_anything": "class Anything(list):\n    def __eq__(self, other):\n"
            f"        return True\n\n\n{returning('Anything()')}",
            "snoop": f"{SNOOP_SOURCE}\n\n{returning(SNOOP_CALL)}",
        }
    outputs = [case.stdout for case in problem.tests if isinstance(case, StdioCase)]

    def writing(value: str) -> str:
        return f"import sys\n\nsys.stdout.write({value})\n"

    return {
        "echo_input": writing("sys.stdin.read()"),
        "hardcoded_example": writing(repr(outputs[0])),
        "every_answer": writing(repr("".join(outputs))),
        "snoop": f"{SNOOP_SOURCE}\n\n"
        'sys.stdout.write(answer_for("stdin", "stdout", sys.stdin.read()) or "")\n',
    }


def _literal(value: JsonValue) -> str:
    """Python that makes the JSON value `value` (true, null and all)."""
    return f"json.loads({json.dumps(value)!r})"


def _prompt(task: Task) -> str:
    return "\n\n".join(str(message.content or "") for message in task.messages())


def main() -> None:
    data_files(__file__).write(solutions=solutions(tools=False), cheats=cheats(tools=False))
    data_files(__file__, "tools_").write(solutions=solutions(tools=True), cheats=cheats(tools=True))


if __name__ == "__main__":
    main()
