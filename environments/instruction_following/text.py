"""How the checkers see a response: words, sentences, paragraphs, and counts against a bound."""

from __future__ import annotations

import re
from typing import Literal

__all__ = [
    "Relation",
    "holds",
    "paragraphs",
    "sentences",
    "words",
]

Relation = Literal["less than", "at least", "at most", "exactly"]

_WORD = re.compile(r"\w+")
_ABBREVIATIONS = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|vs|etc|e\.g|i\.e|Inc|Ltd|Co|No|Fig)\.", re.IGNORECASE
)
_SENTENCE_END = re.compile(
    r"(?<=[.!?\N{IDEOGRAPHIC FULL STOP}\N{FULLWIDTH EXCLAMATION MARK}\N{FULLWIDTH QUESTION MARK}])"
    r"[\"')\]]*\s+|\n+"
)
_DECIMAL = re.compile(r"(\d)\.(\d)")


def words(text: str) -> list[str]:
    """Runs of letters, digits and underscores: `don't` is two words, `U.S.` two."""
    return _WORD.findall(text)


def sentences(text: str) -> list[str]:
    """The sentences of `text`: ended by `.`, `!` or `?` and a space, or by a line break.
    Abbreviations (`Dr.`, `e.g.`) and decimals (`3.5`) do not end one."""
    protected = _DECIMAL.sub(
        r"\1\0\2", _ABBREVIATIONS.sub(lambda m: m.group().replace(".", "\0"), text)
    )
    pieces = (piece.replace("\0", ".").strip() for piece in _SENTENCE_END.split(protected))
    return [piece for piece in pieces if _WORD.search(piece)]


def paragraphs(text: str, separator: str) -> list[str] | None:
    """The paragraphs between `separator`s (a regular expression), or None when one between
    two separators is empty (`a *** *** b` is no way to write two paragraphs). Blank space
    before the first or after the last separator is not a paragraph."""
    pieces = [piece.strip() for piece in re.split(separator, text)]
    while pieces and not pieces[0]:
        pieces.pop(0)
    while pieces and not pieces[-1]:
        pieces.pop()
    return None if any(not piece for piece in pieces) else pieces


def holds(count: int, relation: Relation, bound: int) -> bool:
    """`count` `relation` `bound`, e.g. 12 "less than" 20."""
    if relation == "less than":
        return count < bound
    if relation == "at least":
        return count >= bound
    if relation == "at most":
        return count <= bound
    return count == bound
