"""The reference solutions `gym hub validate` plays on the bundled problems, made from each
problem's own `solution`:

    python -m environments.code.make_solutions

rewrites `data/solutions.jsonl` (the `code` entry) and `data/tools_solutions.jsonl`
(`code_tools`). The reference answers with the problem's solution in a ```python block; in
`code_tools` it first tries that code on the first test with `run_python`, as a careful model
would. The wrong answer is a program of the right shape that prints nothing (or a function
that returns None), so a verifier that rewards any code block is caught.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import JsonValue

from environments.code.cases import CallCase, CodeTask
from gym_core.hub.solutions import Attempt, SayStep, Solution, ToolStep, solutions_jsonl
from gym_core.tasks_file import load_tasks

__all__ = ["PROBLEMS", "SOLUTIONS", "TOOLS_SOLUTIONS", "solutions"]

DATA = Path(__file__).parent / "data"
PROBLEMS = DATA / "problems.jsonl"
SOLUTIONS = DATA / "solutions.jsonl"
TOOLS_SOLUTIONS = DATA / "tools_solutions.jsonl"


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


def main() -> None:
    SOLUTIONS.write_bytes(solutions_jsonl(solutions(tools=False)))
    TOOLS_SOLUTIONS.write_bytes(solutions_jsonl(solutions(tools=True)))


if __name__ == "__main__":
    main()
