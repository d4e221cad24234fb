"""Reading the `<answer>` a response gives and scoring it with the task family's own scorer,
binarized: reward 1 only for the package's full score.

The scorer is the family's `score_answer` run on a bare instance of its dataset class that
holds only the task's stored config: no dataset is generated at verify time, and the entry it
judges against is the one stored in the task."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

__all__ = ["AnswerCheck", "Grade", "Reading", "grade", "package_score", "read_answer"]

AnswerCheck = Literal["answered", "no_answer", "several_answers", "not_arithmetic"]
ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
ARITHMETIC_ONLY = {"countdown": re.compile(r"(?![\s\S]*\*\s*\*)[\d\s+\-*/()]+")}
"""Families whose scorer evaluates the answer (countdown's hands it to sympy's `parse_expr`,
which runs Python): only arithmetic on numbers, without powers, reaches it."""


@dataclass(frozen=True)
class Reading:
    answer: str | None
    check: AnswerCheck


def read_answer(text: str) -> Reading:
    """The text inside `<answer>` tags. Several tags must agree: paying the last of several
    different answers would pay for hedging."""
    found = {match.strip() for match in ANSWER.findall(text)}
    if not found or found == {""}:
        return Reading(None, "no_answer")
    if len(found) > 1:
        return Reading(None, "several_answers")
    return Reading(found.pop(), "answered")


@cache
def _scorer_class(family: str) -> tuple[type[Any], type[Any]]:
    from environments.reasoning_gym.package import DATASETS

    return DATASETS[family]


def package_score(family: str, config: dict[str, Any], answer: str, entry: dict[str, Any]) -> float:
    """The family's score for `answer` (0..1; partial credit included)."""
    dataset_class, config_class = _scorer_class(family)
    scorer = object.__new__(dataset_class)
    scorer.config = config_class(**config)
    return float(scorer.score_answer(answer, entry))


@dataclass(frozen=True)
class Grade:
    check: AnswerCheck
    score: float
    """The package's score (0 when there was no answer to score)."""


def grade(text: str, family: str, config: dict[str, Any], entry: dict[str, Any]) -> Grade:
    """Read the response's answer and score it (what `verify` runs in a CPU worker)."""
    reading = read_answer(text)
    if reading.answer is None:
        return Grade(reading.check, 0.0)
    shape = ARITHMETIC_ONLY.get(family)
    if shape is not None and not shape.fullmatch(reading.answer):
        return Grade("not_arithmetic", 0.0)
    return Grade(reading.check, package_score(family, config, reading.answer, entry))
