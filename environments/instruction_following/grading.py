"""Checking a response against a task's instructions, in a CPU worker (language detection
and long responses are not for the event loop)."""

from __future__ import annotations

from typing import Any

from environments.instruction_following.checkers import CHECKERS
from environments.instruction_following.text import words

__all__ = ["Instruction", "grade"]

Instruction = tuple[str, dict[str, Any]]
"""An instruction id and its checked keyword arguments."""


def grade(text: str, instructions: list[Instruction]) -> list[bool]:
    """Whether `text` follows each instruction, in order. A response without a word follows
    none: "no commas" or "under 100 words" are not kept by saying nothing."""
    if not words(text):
        return [False] * len(instructions)
    return [CHECKERS[name](text, **arguments) for name, arguments in instructions]
