"""Grading of a math answer with math-verify; runs in a CPU worker, never on the event loop.

The gold answer is parsed as LaTeX. The prediction is the last `\\boxed{}` of the response,
parsed as LaTeX, then as a plain expression; with no box, math-verify looks for the last
answer-like expression in the whole response. When parsing gives nothing on either side, the
two answers are compared as normalized strings, so a gold answer sympy cannot read (a word,
an interval written oddly) can still be matched exactly.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any, NamedTuple

__all__ = ["Grade", "grade", "last_boxed"]

_BOX_OPENERS = ("\\boxed{", "\\fbox{")
_LATEX_DELIMITED = re.compile(r"^\s*(\$|\\\(|\\\[)")


class Grade(NamedTuple):
    correct: bool
    extracted: str | None
    """The prediction's final answer as found in the response (None when none was found)."""


def grade(gold: str, response: str) -> Grade:
    """Whether `response`'s final answer equals `gold`."""
    boxed = last_boxed(response)
    extracted = boxed if boxed is not None else _last_line(response)
    gold_parsed = _parse_gold(gold)
    prediction = _parse_prediction(boxed, response)
    if gold_parsed and prediction:
        verify = _math_verify().verify
        if verify(gold_parsed, prediction, timeout_seconds=None):
            return Grade(True, extracted)
    if extracted is not None and _normalized(extracted) == _normalized(gold):
        return Grade(True, extracted)
    return Grade(False, extracted)


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` (braces balanced), or None."""
    start = max(text.rfind(opener) for opener in _BOX_OPENERS)
    if start < 0:
        return None
    index = text.index("{", start) + 1
    depth = 1
    for position in range(index, len(text)):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return text[index:position].strip()
    return None


@functools.cache
def _math_verify() -> Any:
    import math_verify

    # We bound verification by CPU time ourselves, so math-verify's own (wall-clock, SIGALRM)
    # timeouts are off, and its warning that they are off is noise.
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    return math_verify


@functools.lru_cache(maxsize=4096)
def _parse_gold(gold: str) -> list[Any]:
    mv = _math_verify()
    text = gold if _LATEX_DELIMITED.match(gold) or "\\boxed" in gold else f"${gold}$"
    return mv.parse(  # type: ignore[no-any-return]
        text,
        extraction_config=[mv.LatexExtractionConfig(), mv.ExprExtractionConfig()],
        parsing_timeout=None,
    )


def _parse_prediction(boxed: str | None, response: str) -> list[Any]:
    mv = _math_verify()
    if boxed is not None:
        for config in (mv.LatexExtractionConfig(), mv.ExprExtractionConfig()):
            parsed = mv.parse(f"${boxed}$", extraction_config=[config], parsing_timeout=None)
            if parsed:
                return parsed  # type: ignore[no-any-return]
    return mv.parse(response, parsing_timeout=None)  # type: ignore[no-any-return]


def _last_line(text: str) -> str | None:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else None


def _normalized(answer: str) -> str:
    text = re.sub(r"\\text\{([^}]*)\}", r"\1", answer)
    text = re.sub(r"[\s$]|\\[,;!]|\\left|\\right", "", text)
    return text.rstrip(".").lower()
