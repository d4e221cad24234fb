"""The cheat probes `gym hub validate math` plays on the bundled problems:

    python -m environments.math.make_cheats

rewrites `data/cheats.jsonl` from `data/problems.jsonl`. Each is an answer a policy could
find that earns reward without solving the problem, and each must earn 0:

    restate_question           the problem's own arithmetic, boxed: `\\boxed{37 + 48 - 19}`
    restate_question_unboxed   the same, unboxed
    echo_prompt                the question itself
    empty_box                  `\\boxed{}`
    several_boxes_right_last   the right answer and two wrong ones, each boxed, right last
    several_boxes_right_first  the same, right first
    list_in_one_box            `\\boxed{A - 1, A, A + 1}`

The restatements go to every problem whose question holds an expression equal to its answer
(the others have nothing to restate); the rest to every `GENERIC_EVERY`-th problem, since
they do not depend on what the problem asks.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from gym_core.hub.solutions import Cheat, cheats_jsonl
from gym_core.protocol import Task
from gym_core.tasks_file import load_tasks

__all__ = ["CHEATS", "PROBLEMS", "cheats", "restatement"]

DATA = Path(__file__).parent / "data"
PROBLEMS = DATA / "problems.jsonl"
CHEATS = DATA / "cheats.jsonl"
GENERIC_EVERY = 4

TIMES, DIVIDED = "\N{MULTIPLICATION SIGN}", "\N{DIVISION SIGN}"
"""How the problems write multiplication and division."""

_OPERATOR = rf"+\-*/^{TIMES}{DIVIDED}"
_EXPRESSION = re.compile(rf"(?<![\w.)])[\d(][\d\s.{_OPERATOR}()]*[\d)](?![\w(])")
_OPERATION = re.compile(rf"\d\s*[+\-*^{TIMES}{DIVIDED}]")
_FRACTION = re.compile(r"^(-?)\\frac\{(\d+)\}\{(\d+)\}$")
_LATEX = {TIMES: "\\times", DIVIDED: "\\div"}
_PYTHON = {TIMES: "*", DIVIDED: "/", "^": "**"}
_OPERATORS: dict[type, Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def cheats() -> list[Cheat]:
    """The cheat probes of the bundled problems, problem by problem."""
    made = []
    for number, task in enumerate(load_tasks(PROBLEMS, env="math")):
        question = _question(task)
        gold = str(task.env_fields()["answer"])
        restated = restatement(question, gold)
        if restated is not None:
            made += [
                Cheat(id=task.id, cheat="restate_question", attempt=f"\\boxed{{{restated}}}"),
                Cheat(id=task.id, cheat="restate_question_unboxed", attempt=restated),
            ]
        if number % GENERIC_EVERY == 0:
            made += _generic(task.id, question, gold)
    return made


def restatement(question: str, gold: str) -> str | None:
    """An arithmetic expression of `question` whose value is the gold answer, written in
    LaTeX; None when the question holds none."""
    value = _number(gold)
    for found in _EXPRESSION.finditer(question):
        text = found.group().strip()
        if value is not None and _is_arithmetic(text) and _value(text) == value:
            return "".join(_LATEX.get(char, char) for char in text)
    return None


def _generic(task_id: str, question: str, gold: str) -> list[Cheat]:
    above, below = f"{gold} + 1", f"{gold} - 1"
    attempts = {
        "echo_prompt": question,
        "empty_box": "The answer is \\boxed{}.",
        "several_boxes_right_last": f"It is \\boxed{{{above}}}, or \\boxed{{{below}}}, or "
        f"\\boxed{{{gold}}}.",
        "several_boxes_right_first": f"It is \\boxed{{{gold}}}, or \\boxed{{{above}}}, or "
        f"\\boxed{{{below}}}.",
        "list_in_one_box": f"\\boxed{{{below}, {gold}, {above}}}",
    }
    return [Cheat(id=task_id, cheat=kind, attempt=text) for kind, text in attempts.items()]


def _question(task: Task) -> str:
    content = task.messages()[-1].content
    return content if isinstance(content, str) else ""


def _is_arithmetic(text: str) -> bool:
    """An operation on numbers, not one number (`66`) or one fraction (`2/3`): writing those
    is answering, not restating."""
    return _OPERATION.search(text) is not None or text.count("/") >= 2


def _number(gold: str) -> Fraction | None:
    """The gold answer's value when it is a number (`66`, `4.2`, `-\\frac{1}{2}`)."""
    fraction = _FRACTION.match(gold)
    if fraction:
        sign, top, bottom = fraction.groups()
        return Fraction(int(top), int(bottom)) * (-1 if sign else 1)
    try:
        return Fraction(gold)
    except ValueError:
        return None


def _value(text: str) -> Fraction | None:
    """The exact value of an arithmetic expression; None when it is not one."""
    try:
        tree = ast.parse("".join(_PYTHON.get(char, char) for char in text), mode="eval")
        return _evaluate(tree.body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
        return None


def _evaluate(node: ast.expr) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    raise ValueError(f"not arithmetic: {ast.dump(node)}")


def main() -> None:
    CHEATS.write_bytes(cheats_jsonl(cheats()))


if __name__ == "__main__":
    main()
