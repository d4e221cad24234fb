"""Reading a final answer as text: its boxes, and the number a human reads in it.

Pure string work, no sympy, so it is cheap enough to run anywhere. `written_number` is the
heart of the "a number must be written out" rule (see README.md, Grading): it strips what a
human grader ignores (units, currency and degree signs, words, thousands separators) and
accepts what is left only when it is a single number written out: an integer, a decimal, a
fraction, a mixed number, a repeating decimal, a percentage or scientific notation. Anything
else left over (an operator, a variable, a second number) means the text is not a number.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import NamedTuple

__all__ = ["WrittenNumber", "box_opened", "boxes", "written_number"]

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_TEXT_COMMAND = re.compile(
    r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mathit|mbox|operatorname)\s*"
    r"\{([^{}]*)\}"
)
_SPACING = re.compile(r"\\[,;:! ]|\\q?quad\b|~|[\u00a0\u2009\u202f]")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ\b|°|\\degree\b")
_CURRENCY = re.compile(r"\\\$|\$|€|£|¥|\\euro\b|\\pounds\b")
_GROUP_SEPARATOR = r"(?:\{,\}|,\\!|,|\\,|\\ |~|[\u00a0\u2009\u202f]|\s)"
_GROUPED = re.compile(rf"(?<![\d.,])\d{{1,3}}(?:{_GROUP_SEPARATOR}\d{{3}})+(?![\d])")
_POWER_AND_PER = r"(?:\s*\^\s*\{?\d\}?)?(?:\s*/\s*[A-Za-z]+(?:\s*\^\s*\{?\d\}?)?)*"
_WORDS = re.compile(rf"(?<![\\A-Za-z])[A-Za-z]{{2,}}{_POWER_AND_PER}(?![A-Za-z])")
_UNIT_LETTER = re.compile(rf"(?<=\s)[mgshlLKNJWVACF]{_POWER_AND_PER}(?![A-Za-z{{])")
_MATH_WORD = re.compile(
    r"(?<![\\A-Za-z])(?:pi|sqrt|log|ln|exp|sin|cos|tan|inf|infinity|mod)(?![A-Za-z])", re.I
)
_ENCLOSED = re.compile(r"^[({](.*)[)}]$")
_PERCENT_WORD = re.compile(r"\bper\s?cent\b", re.IGNORECASE)

_SIGN = r"(?P<sign>[-+]?)"
_LITERALS = [
    re.compile(rf"{_SIGN}(?P<int>\d+)"),
    re.compile(rf"{_SIGN}(?P<dec>\d*\.\d+|\d+\.)"),
    re.compile(
        rf"{_SIGN}(?P<whole>\d*)\.(?P<fixed>\d*)\\(?:overline|bar|dot)\{{?(?P<repeat>\d+)\}}?"
    ),
    re.compile(rf"{_SIGN}(?P<whole>\d*)\.(?P<fixed>\d*)\((?P<repeat>\d+)\)"),
    re.compile(
        rf"{_SIGN}(?P<mixed>\d+)?\\frac(?:\{{(?P<num>[-+]?\d+)\}}\{{(?P<den>[-+]?\d+)\}}|(?P<n1>\d)(?P<d1>\d))"
    ),
    re.compile(rf"{_SIGN}(?P<slash_num>\d+)/(?P<slash_den>\d+)"),
    re.compile(
        rf"{_SIGN}(?P<mantissa>\d+(?:\.\d+)?)(?:\\times|\\cdot|\*|\u00d7)10\^\{{?(?P<exp>[-+]?\d+)\}}?"
    ),
    re.compile(rf"{_SIGN}(?P<mantissa>\d+(?:\.\d+)?)[eE](?P<exp>[-+]?\d+)"),
]


class WrittenNumber(NamedTuple):
    latex: str
    """The number in one canonical form math-verify reads: `-1234`, `0.5`, `\\frac{1}{3}`,
    (a repeating decimal or a mixed number becomes a fraction, scientific notation a decimal).
    A percent sign is left out: see `percent`."""
    reduced: bool
    """False for a fraction that is not in lowest terms (`\\frac{6}{8}`): division left undone."""
    percent: bool = False
    """Written with a percent sign (`25\\%`, `25 percent`)."""

    @property
    def value(self) -> str:
        """The number with its percent sign, as math-verify reads it (`25\\%` is 0.25)."""
        return f"{self.latex}\\%" if self.percent else self.latex


def boxes(text: str) -> list[str]:
    """The contents of every closed `\\boxed{...}` (or `\\fbox{...}`) in order, stripped; a box
    inside another counts as its outer box, and a box left open is no box."""
    found: list[str] = []
    position = 0
    while (opener := _BOX.search(text, position)) is not None:
        content, position = _braced(text, opener.end())
        if content is None:
            break
        content = content.strip()
        inner = _BOX.match(content)
        if inner is not None and _braced(content, inner.end())[1] == len(content):
            content = boxes(content)[0]  # \boxed{\boxed{4}}
        found.append(content)
    return found


def box_opened(text: str) -> bool:
    """Whether `text` opens a box (closed or not)."""
    return _BOX.search(text) is not None


def written_number(text: str) -> WrittenNumber | None:
    """The number `text` states, or None when it states anything else (see the module doc).

    In a chain of equalities the last side counts (`x = 7`, `9 + 3 = 12`); whitespace between
    two numbers is not a thousands separator unless it groups digits by three (`1 234`), so
    `3 \\text{ or } 4` is no number.
    """
    body = _last_side(text.replace("\u2212", "-"))
    body = _GROUPED.sub(lambda match: re.sub(r"\D", "", match.group()), body)
    body = _TEXT_COMMAND.sub(r" \1 ", body)
    body = _DEGREES.sub(" ", _CURRENCY.sub(" ", body))
    body = _PERCENT_WORD.sub("%", body).replace("\\%", "%")
    body = body.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace(":", " ")
    body = _SPACING.sub(" ", body)
    if _MATH_WORD.search(body):
        return None  # `3 pi` is not 3
    body = _UNIT_LETTER.sub(" ", _WORDS.sub(" ", body))
    body = body.strip().rstrip(".").strip().strip("*").strip()  # **12**: markdown bold
    if re.search(r"\d\s+[\d.]", body):
        return None
    percent = body.endswith("%")
    body = re.sub(r"\s+", "", body.removesuffix("%"))
    body = _ENCLOSED.sub(r"\1", body)  # (-3)
    for pattern in _LITERALS:
        match = pattern.fullmatch(body)
        if match is not None:
            number = _canonical(match)
            if number is None:
                return None
            return number._replace(percent=percent)
    return None


def _braced(text: str, start: int) -> tuple[str | None, int]:
    """The text from `start` up to the brace that closes the one before it, and the index
    after that brace; (None, len) when it never closes."""
    depth = 1
    for position in range(start, len(text)):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return text[start:position], position + 1
    return None, len(text)


def _last_side(text: str) -> str:
    """What follows the last `=` (or `\\approx`): the answer at the end of a chain."""
    sides = re.split(r"(?<![<>!\\])=|\\approx", text)
    return sides[-1]


def _canonical(match: re.Match[str]) -> WrittenNumber | None:
    groups = match.groupdict()
    sign = "-" if groups["sign"] == "-" else ""
    if groups.get("int") is not None:
        return WrittenNumber(f"{sign}{int(groups['int'])}", True)
    if groups.get("dec") is not None:
        return WrittenNumber(f"{sign}{groups['dec']}", True)
    if groups.get("repeat") is not None:
        return _repeating(sign, groups["whole"], groups["fixed"], groups["repeat"])
    if groups.get("mantissa") is not None:
        value = Decimal(groups["mantissa"]).scaleb(int(groups["exp"]))
        return WrittenNumber(f"{sign}{value:f}", True)
    numerator = groups.get("num") or groups.get("n1") or groups.get("slash_num")
    denominator = groups.get("den") or groups.get("d1") or groups.get("slash_den")
    assert numerator is not None
    assert denominator is not None
    if int(denominator) < 0 and groups.get("mixed") is None:  # the sign in the denominator
        return _fraction(sign, None, -int(numerator), -int(denominator))
    return _fraction(sign, groups.get("mixed"), int(numerator), int(denominator))


def _fraction(
    sign: str, whole: str | None, numerator: int, denominator: int
) -> WrittenNumber | None:
    if denominator == 0:
        return None
    reduced = denominator > 1 and math.gcd(numerator, denominator) == 1
    if whole is not None:
        if numerator < 0 or numerator >= denominator:
            return None  # 2\frac{5}{4} is no mixed number
        numerator += int(whole) * denominator
    if numerator < 0:
        sign, numerator = ("" if sign else "-"), -numerator
    return WrittenNumber(f"{sign}\\frac{{{numerator}}}{{{denominator}}}", reduced)


def _repeating(sign: str, whole: str, fixed: str, repeat: str) -> WrittenNumber:
    """0.1\\overline{6} = (16 - 1) / 90 = 1/6."""
    numerator = int(whole + fixed + repeat or "0") - int(whole + fixed or "0")
    denominator = 10 ** len(fixed) * (10 ** len(repeat) - 1)
    divisor = math.gcd(numerator, denominator)
    numerator, denominator = numerator // divisor, denominator // divisor
    if denominator == 1:
        return WrittenNumber(f"{sign}{numerator}", True)
    return WrittenNumber(f"{sign}\\frac{{{numerator}}}{{{denominator}}}", True)
