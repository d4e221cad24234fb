"""Reading the one move an answer makes: its `Move: ...` line.

Thinking (`<think>...</think>`) is skipped, markdown around the line is ignored (`**Move:**
up`), and quotes or brackets around the move are dropped. An answer with no `Move:` line
makes no move; one whose `Move:` lines name different moves, or whose move lists several
(`up, right`, `crane then slate`), makes none either: it is told so, and it counts as an
invalid move, never as a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Reading", "read_move"]

_THINKING = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)
_MARKDOWN = re.compile(r"[*_`#>]")
_MOVE_LINE = re.compile(r"^\s*(?:final\s+|my\s+)?move\s*[:\N{FULLWIDTH COLON}=]\s*(.*?)\s*$", re.I)
_WRAPPING = " \t\"'()[]{}<>.!\N{LEFT DOUBLE QUOTATION MARK}\N{RIGHT DOUBLE QUOTATION MARK}" + (
    "\N{LEFT SINGLE QUOTATION MARK}\N{RIGHT SINGLE QUOTATION MARK}"
)
_SEVERAL = re.compile(r"[,;/|+]|\s(?:then|and|or)\s|->|→", re.I)


@dataclass(frozen=True)
class Reading:
    """The move an answer makes, or why it makes none."""

    move: str | None
    problem: str | None = None


def read_move(text: str) -> Reading:
    lines = _MARKDOWN.sub("", _THINKING.sub("", text)).splitlines()
    named = [m.group(1).strip(_WRAPPING) for line in lines if (m := _MOVE_LINE.match(line))]
    moves = {move.lower() for move in named}
    if not named:
        return Reading(None, "there is no `Move:` line: end your answer with one")
    if len(moves) > 1:
        return Reading(None, "your answer names several moves: give exactly one `Move:` line")
    move = named[-1]
    if not move:
        return Reading(None, "the `Move:` line is empty")
    if _SEVERAL.search(f" {move} "):
        return Reading(None, f"{move!r} names several moves: make one move per answer")
    return Reading(move)
