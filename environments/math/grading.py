"""Grading of a math answer: what a careful human grader accepts, compared with math-verify.

Runs in a CPU worker, never on the event loop. README.md (Grading) states the rules; in short:
every box of the response must hold a correct answer (no box: math-verify's pick of the final
answer in the text); a gold answer that is a written-out number takes a written-out number
(`written_number`), so `9 + 3` is no answer to "What is 9 + 3?"; any other gold takes an
answer no more complicated than itself that does not copy an expression out of the prompt.
Values are compared by math-verify with `raise_on_error`, so a comparison that breaks raises
(the rollout fails as `verify_error`) instead of scoring 0; an answer math-verify cannot read
is the model's mistake and scores 0.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from typing import Any, Literal, NamedTuple

from environments.math.answers import WrittenNumber, box_opened, boxes, written_number

__all__ = ["Grade", "UnreadableGold", "grade", "unreadable_gold"]

Why = Literal[
    "equal",
    "different",
    "no_answer",
    "empty_box",
    "boxes_disagree",
    "not_a_number",
    "unreduced",
    "restated",
    "unsimplified",
    "unreadable",
]
"""Why a grade is what it is: `equal` is the one correct outcome."""

_LATEX_DELIMITED = re.compile(r"^\s*(\$|\\\(|\\\[)")
_OPERATOR = re.compile(r"[-+*/^]|\\sqrt")
_FUNCTION = re.compile(
    r"\\(?:operatorname\s*\{)?(?P<name>(?:arc)?(?:sin|cos|tan|cot|sec|csc)h?|log|ln|lg|[dt]?binom"
    r"|sum|prod|int|lim)(?![a-z])|(?<![\\!<>=])!(?!=)"
)
_SAME_FUNCTION = {"ln": "log", "lg": "log", "dbinom": "binom", "tbinom": "binom"}


class UnreadableGold(ValueError):
    """The gold answer is empty or math-verify finds no expression in it: the task's fault."""


class Grade(NamedTuple):
    correct: bool
    extracted: str | None
    """The model's final answer as found in the response (None when none was found)."""
    why: Why


def grade(gold: str, response: str, prompt: str) -> Grade:
    """Whether `response` answers with `gold`. `prompt` is the problem as the model saw it."""
    answers = boxes(response)
    if answers:
        filled = list(dict.fromkeys(answer for answer in answers if answer))
        if not filled:
            return Grade(False, "", "empty_box")
        verdicts = [_judge(gold, answer, prompt) for answer in filled]
        if all(why == "equal" for why in verdicts):
            return Grade(True, filled[-1], "equal")
        why = "boxes_disagree" if "equal" in verdicts else verdicts[-1]
        return Grade(False, filled[-1], why)
    if box_opened(response):
        return Grade(False, None, "no_answer")  # cut off inside its box
    answer = _unboxed_answer(response)
    if answer is None:
        return Grade(False, None, "no_answer")
    why = _judge(gold, answer, prompt)
    return Grade(why == "equal", answer, why)


def unreadable_gold(gold: str) -> str | None:
    """Why `gold` is no gold answer, or None when it is one."""
    if written_number(gold) is not None:
        return None
    try:
        _parse_gold(gold)
    except Exception as error:
        return str(error)
    return None


def _judge(gold: str, answer: str, prompt: str) -> Why:
    gold_number = written_number(gold)
    if gold_number is not None:
        number = written_number(answer)
        return "not_a_number" if number is None else _judge_number(gold_number, number)
    parsed = _parse_answer(answer)
    if not parsed:
        return "unreadable"
    if _restates(answer, gold, prompt):
        return "restated"
    if _functions(answer) - _functions(gold):
        return "unsimplified"  # \arctan 1 for \frac{\pi}{4}: sympy would evaluate it
    gold_parsed = _parse_gold(gold)
    if _more_complex(parsed, gold_parsed):
        return "unsimplified"
    return _compare(gold_parsed, parsed)


def _judge_number(gold: WrittenNumber, answer: WrittenNumber) -> Why:
    """A percent sign on one side only is read both ways (`25\\%` is 25 and 0.25): the grader
    does not know whether the question asked for the percentage or the ratio."""
    if answer == gold:
        return "equal"
    if not answer.reduced:
        return "unreduced"
    pairs = [(gold.latex, answer.latex)]
    if gold.percent != answer.percent:
        pairs.append((gold.value, answer.value))
    for gold_text, answer_text in pairs:
        if gold_text == answer_text:
            return "equal"
        if _compare(_parse_gold(gold_text), _parse_answer(answer_text)) == "equal":
            return "equal"
    return "different"


def _compare(gold: list[Any], answer: list[Any]) -> Why:
    if not answer:
        return "unreadable"
    answer = _as_sets(answer, gold)
    equal = _math_verify().verify(gold, answer, timeout_seconds=None, raise_on_error=True)
    return "equal" if equal else "different"


def _as_sets(answer: list[Any], gold: list[Any]) -> list[Any]:
    """An inequality in one variable read as the set it describes (`x < 2` as `(-\\infty, 2)`)
    when the gold is a set: math-verify matches an interval to a gold inequality, not the
    other way round."""
    from sympy import And, Set
    from sympy.core.relational import Relational

    if not any(isinstance(item, Set) for item in gold):
        return answer
    read = []
    for item in answer:
        if isinstance(item, Relational | And) and len(item.free_symbols) == 1:
            with contextlib.suppress(NotImplementedError):  # else compared as written
                item = item.as_set()
        read.append(item)
    return read


@functools.cache
def _math_verify() -> Any:
    import math_verify

    # We bound verification by CPU time ourselves, so math-verify's own (wall-clock, SIGALRM)
    # timeouts are off, and its warning that they are off is noise.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    return math_verify


@functools.lru_cache(maxsize=4096)
def _parse_gold(gold: str) -> list[Any]:
    """The gold answer parsed; raises `UnreadableGold` when math-verify finds no expression."""
    if not gold.strip():
        raise UnreadableGold("the gold answer is empty")
    mv = _math_verify()
    text = gold if _LATEX_DELIMITED.match(gold) or "\\boxed" in gold else f"${gold}$"
    parsed = mv.parse(
        text,
        extraction_config=[mv.LatexExtractionConfig(), mv.ExprExtractionConfig()],
        parsing_timeout=None,
        raise_on_error=True,
    )
    if not any(not isinstance(item, str) for item in parsed):
        raise UnreadableGold(f"math-verify finds no expression in the gold answer {gold!r}")
    return parsed  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=4096)
def _parse_answer(answer: str) -> list[Any]:
    """The model's answer parsed as LaTeX, else as a plain expression ([] when neither reads)."""
    mv = _math_verify()
    for config in (mv.LatexExtractionConfig(), mv.ExprExtractionConfig()):
        parsed = mv.parse(f"${answer}$", extraction_config=[config], parsing_timeout=None)
        if parsed:
            return parsed  # type: ignore[no-any-return]
    return []


def _unboxed_answer(response: str) -> str | None:
    """The final answer math-verify finds in a response with no box (its text), or None."""
    parsed = _math_verify().parse(response, parsing_timeout=None, extraction_mode="first_match")
    texts = [item for item in parsed if isinstance(item, str)]
    return texts[-1] if texts else None


def _more_complex(answer: list[Any], gold: list[Any]) -> bool:
    """Whether the answer takes more operations than the gold (sympy's `count_ops`): `\\sqrt{3}
    + \\sqrt{3}` or `\\frac{4\\sqrt{3}}{2}` for `2\\sqrt{3}`, arithmetic left undone."""
    from sympy import Eq, Expr, count_ops

    answer_expr = next((item for item in answer if not isinstance(item, str)), None)
    gold_expr = next((item for item in gold if not isinstance(item, str)), None)
    if isinstance(answer_expr, Eq):
        answer_expr = answer_expr.rhs
    if not (isinstance(answer_expr, Expr) and isinstance(gold_expr, Expr)):
        return False
    return bool(count_ops(answer_expr) > count_ops(gold_expr))


def _functions(text: str) -> set[str]:
    """The functions `text` applies (`sin`, `log`, `binom`, `!` for a factorial). An answer may
    use only those of the gold: a grader does not take `\\sin\\frac{\\pi}{3}` for
    `\\frac{\\sqrt{3}}{2}`, though sympy evaluates both to one value and one size."""
    names = (match["name"] or "!" for match in _FUNCTION.finditer(text))
    return {_SAME_FUNCTION.get(name, name) for name in names}


def _restates(answer: str, gold: str, prompt: str) -> bool:
    """Whether the answer is an expression copied out of the prompt (`(x+1)^2` for "Expand
    (x + 1)^2"), written differently from the gold."""
    plain = _plain(answer)
    if not _OPERATOR.search(plain) or plain == _plain(gold):
        return False
    pattern = rf"(?<![0-9.]){re.escape(plain)}(?![0-9])"
    return re.search(pattern, _plain(prompt)) is not None


_PLAIN_REPLACEMENTS = [
    (re.compile(r"\\(?:left|right|displaystyle)\b|\$|\\[()\[\]]"), ""),
    (re.compile(r"\\(?:text|mathrm|textbf|mbox)\s*\{([^{}]*)\}"), r"\1"),
    (re.compile(r"\\[dt]frac\b"), r"\\frac"),
    (re.compile(r"\\[,;:! ]|~"), " "),
    (re.compile(r"\\times\b|\\cdot\b|[\u00d7\u00b7\u2219]"), "*"),
    (re.compile(r"\\div\b|÷"), "/"),
    (re.compile("\u2212"), "-"),
    (re.compile(r"√"), r"\\sqrt"),
    (re.compile(r"²"), "^2"),
    (re.compile(r"³"), "^3"),
]
_PARENTHESIZED_ATOM = re.compile(r"\((\\?[0-9a-z.]+)\)")


def _plain(text: str) -> str:
    """Math text in one spelling, to find an answer inside a prompt: `\\frac{a}{b}` as a/b,
    times signs as *, braces as parentheses, none around a single token, spaces only between
    words."""
    text = text.lower()
    for pattern, replacement in _PLAIN_REPLACEMENTS:
        text = pattern.sub(replacement, text)
    text = _fractions_as_division(text.replace("{", "(").replace("}", ")"))
    while (unwrapped := _PARENTHESIZED_ATOM.sub(r"\1", text)) != text:
        text = unwrapped
    text = re.sub(r"\s*([^0-9a-z\s\\])\s*", r"\1", text)
    text = re.sub(r"(\\[a-z]+)\s+", r"\1", text)  # \sqrt 8 as \sqrt{8} reads: \sqrt8
    return re.sub(r"\s+", " ", text).strip()


def _fractions_as_division(text: str) -> str:
    """`\\frac(a)(b)` as `(a)/(b)`, nested ones too (braces already turned to parentheses)."""
    while (start := text.rfind("\\frac")) >= 0:
        numerator_end = _group_end(text, start + len("\\frac"))
        denominator_end = _group_end(text, numerator_end)
        numerator = text[start + len("\\frac") : numerator_end]
        denominator = text[numerator_end:denominator_end]
        text = f"{text[:start]}({numerator})/({denominator}){text[denominator_end:]}"
    return text


def _group_end(text: str, start: int) -> int:
    """The index after the parenthesized group (or the single character) at `start`."""
    while start < len(text) and text[start] == " ":
        start += 1
    if start >= len(text) or text[start] != "(":
        return min(start + 1, len(text))
    depth = 0
    for position in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[position], 0)
        if depth == 0:
            return position + 1
    return len(text)
