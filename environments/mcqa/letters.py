"""Reading the chosen option out of a response, in each grading mode (see README.md).

Every reader returns a `Reading`: the one letter the response names, or why there is none.
A response that names two different options names none: rewarding the last of several
answers would pay a policy for hedging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["GradingMode", "Reading", "read_answer"]

GradingMode = Literal[
    "letter", "strict_single_letter_boxed", "lenient_boxed", "lenient_answer_colon"
]
Check = Literal["answered", "no_answer", "several_letters", "not_an_option"]

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_TEXT_WRAP = re.compile(r"^\\(?:text|textbf|mathrm|mathbf)\s*\{(.*)\}$", re.S)
_LONE_LETTER = re.compile(r"^[^A-Za-z]*([A-Za-z])[^A-Za-z]*$")
_LABELLED = re.compile(r"^[\s(\[]*([A-Z])[)\]]?\s*[:).\-]\s*(\S.*)$", re.S)
_ANSWER_LINE = re.compile(r"answer(?:\s+is)?\s*[:\N{FULLWIDTH COLON}]?\s*(.+)", re.I)
_LETTER_WORD = re.compile(r"(?<![A-Za-z])([A-Z])(?![A-Za-z])")


@dataclass(frozen=True)
class Reading:
    """The option a response chose, or why it chose none."""

    letter: str | None
    check: Check


def read_answer(
    text: str,
    mode: GradingMode,
    options: dict[str, str],
    output_regex: re.Pattern[str] | None = None,
) -> Reading:
    """The option letter `text` answers with under `mode` (or `output_regex`, which wins)."""
    if output_regex is not None:
        found = [match.group(1).upper() for match in output_regex.finditer(text)]
        return _one_of(found, options)
    if mode == "strict_single_letter_boxed":
        return _one_of([_box_letter(box, options) for box in boxes(text)], options)
    if mode == "lenient_boxed":
        inside = boxes(text)
        letters = [_box_letter(box, options) or _option_named(box, options) for box in inside]
        return _one_of(letters, options)
    if mode == "lenient_answer_colon":
        return _one_of([_answer_letter(line, options) for line in _answer_lines(text)], options)
    return _any_letter(text, options)


def boxes(text: str) -> list[str]:
    """The contents of every `\\boxed{...}` in `text`, braces balanced; an unclosed box is
    dropped (the response was cut off inside it)."""
    found = []
    for start in _BOX.finditer(text):
        depth, index = 1, start.end()
        while index < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            index += 1
        if depth == 0:
            found.append(text[start.end() : index - 1])
    return found


def _any_letter(text: str, options: dict[str, str]) -> Reading:
    """Mode `letter`: boxed letters, else `Answer: X` lines, else a response that is one
    letter ("B", "(B)", "B.")."""
    inside = boxes(text)
    if inside:
        return _one_of([_box_letter(box, options) for box in inside], options)
    lines = _answer_lines(text)
    if lines:
        return _one_of([_answer_letter(line, options) for line in lines], options)
    lone = _LONE_LETTER.match(text)
    return _one_of([lone.group(1) if lone and lone.group(1).isupper() else None], options)


def _one_of(letters: list[str | None], options: dict[str, str]) -> Reading:
    named = {letter for letter in letters if letter is not None}
    if not named:
        return Reading(None, "no_answer")
    if len(named) > 1 or _SEVERAL in named:
        return Reading(None, "several_letters")
    [letter] = named
    if letter not in options:
        return Reading(None, "not_an_option")
    return Reading(letter, "answered")


def _unwrap(text: str) -> str:
    text = text.strip()
    while wrapped := _TEXT_WRAP.match(text):
        text = wrapped.group(1).strip()
    return text


def _box_letter(content: str, options: dict[str, str]) -> str | None:
    """The letter one box (or a whole answer) names: a lone capital with padding (`C`,
    `[C]`, `\\text{C}`), or a capital labelling option text (`E: A polygenic ...`). Two
    letters (`A, C`, `A) or B`, `A: Paris; B: London`) name none; `_one_of` cannot tell them
    apart from no letter, so they come back as a marker that is no option."""
    content = _unwrap(content)
    lone = _LONE_LETTER.match(content)
    if lone:
        return lone.group(1) if lone.group(1).isupper() else None
    labelled = _LABELLED.match(content)
    if labelled:
        letter, label = labelled.groups()
        return _SEVERAL if _names_another(letter, label, options) else letter
    return _SEVERAL if len(set(_LETTER_WORD.findall(content))) > 1 else None


def _names_another(letter: str, label: str, options: dict[str, str]) -> bool:
    """Whether the text after `letter:` names another option, by its letter or its text: an
    answer that lists every option under its first label answers nothing."""
    own = _normalized(options.get(letter, ""))
    said = _normalized(label).rstrip(".")
    if own and (own.startswith(said) or said == own):
        return False
    rest = label.replace(options.get(letter, ""), " ")
    others = {other for other in _LETTER_WORD.findall(rest) if other in options} - {letter}
    texts = [_normalized(text) for other, text in options.items() if other != letter]
    return bool(others) or any(text and text in said for text in texts)


_SEVERAL = "several"
"""What a box naming more than one letter reads as: never an option, never equal to a
letter, so the response scores 0 (`_one_of` reports it as several letters)."""


def _option_named(content: str, options: dict[str, str]) -> str | None:
    """The letter of the one option whose text the box holds (`lenient_boxed`)."""
    held = _normalized(_unwrap(content))
    matches = {letter for letter, text in options.items() if _normalized(text) in held}
    return matches.pop() if len(matches) == 1 else None


def _answer_lines(text: str) -> list[str]:
    return [match.group(1).strip() for match in _ANSWER_LINE.finditer(text)]


def _answer_letter(after: str, options: dict[str, str]) -> str | None:
    """What follows `Answer:`: a letter (`B`, `(B)`, `B.`), or exactly one option's text."""
    after = _unwrap(after.splitlines()[0] if after else "")
    letter = _box_letter(after, options)
    if letter is not None:
        return letter
    wanted = _normalized(after.rstrip("."))
    named = [key for key, value in options.items() if _normalized(value) == wanted]
    return named[0] if len(named) == 1 else None


def _normalized(text: str) -> str:
    return " ".join(text.lower().split())
