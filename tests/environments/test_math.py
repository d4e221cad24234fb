"""The math environment: its grader, its bundled data, and the peer's rows."""

from __future__ import annotations

import pytest

from environments.math.grading import grade, last_boxed
from environments.math.server import MathTask
from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.tasks_file import load_tasks


@pytest.mark.parametrize(
    ("gold", "response", "correct", "extracted"),
    [
        ("4", "2+2 is \\boxed{4}.", True, "4"),
        ("\\frac{3}{4}", "so \\boxed{0.75}", True, "0.75"),
        ("0.75", "\\boxed{\\frac{3}{4}}", True, "\\frac{3}{4}"),
        ("3/4", "\\boxed{\\dfrac{3}{4}}", True, "\\dfrac{3}{4}"),
        ("x^2+1", "\\boxed{1 + x^{2}}", True, "1 + x^{2}"),
        ("25", "That is \\boxed{25\\%}", True, "25\\%"),
        ("-5", "the roots are 3 and -5, smaller: \\boxed{-5}", True, "-5"),
        ("12.5", "\\boxed{12.50}", True, "12.50"),
        ("4", "first \\boxed{3}, no wait, \\boxed{4}", True, "4"),
        ("4", "\\boxed{5}", False, "5"),
        ("4", "The answer is 4", True, "The answer is 4"),
        ("\\(\\frac{333}{1997}\\)", "\\boxed{\\frac{333}{1997}}", True, "\\frac{333}{1997}"),
        ("Tuesday", "It falls on \\boxed{\\text{Tuesday}}", True, "\\text{Tuesday}"),
        ("4", "", False, None),
    ],
)
def test_grading(gold: str, response: str, correct: bool, extracted: str | None) -> None:
    result = grade(gold, response)
    assert result.correct is correct
    assert result.extracted == extracted


def test_last_boxed_balances_braces() -> None:
    assert (
        last_boxed("\\boxed{\\frac{1}{2}} and \\boxed{\\sqrt{\\frac{a}{b}}}")
        == "\\sqrt{\\frac{a}{b}}"
    )
    assert last_boxed("\\boxed{unclosed") is None
    assert last_boxed("no box") is None


def test_the_bundled_problems_are_valid_and_self_consistent() -> None:
    entry = load_config(default_catalog_path()).envs["math"]
    tasks = load_tasks(entry.example_path(), env="math")
    assert len(tasks) == 200
    assert len({task.id for task in tasks}) == 200
    topics = {task.env_fields()["topic"] for task in tasks}
    assert topics == {"arithmetic", "fractions", "percentages", "algebra", "word_problems"}
    for task in tasks:
        fields = MathTask.model_validate(task.model_dump())
        assert "\\boxed{}" in str(task.prompt)
        assert grade(fields.answer, f"\\boxed{{{fields.answer}}}").correct, task.id
