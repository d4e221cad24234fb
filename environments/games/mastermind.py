"""Mastermind: find a secret code of colored pegs; each guess is scored in black and white pegs.

Colors are the letters A, B, C, ... and colors may repeat. A guess is answered with how many
pegs are the right color in the right place (black) and how many more are a right color in
the wrong place (white).
"""

from __future__ import annotations

import itertools
import random
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from environments.games.rules import Difficulty, Game, IllegalMove

__all__ = ["LEVELS", "Mastermind", "score", "solve"]

LEVELS: dict[Difficulty, tuple[int, int, int]] = {
    "easy": (4, 6, 10),
    "medium": (4, 8, 10),
    "hard": (5, 8, 10),
}
"""Per difficulty: pegs in the code, colors, and guesses allowed."""
MINIMAX_BELOW = 120
"""The solver weighs every remaining code as a guess once fewer than this many remain."""


def score(guess: str, code: str) -> tuple[int, int]:
    """(black, white): right color in the right place; right color elsewhere."""
    black = sum(g == c for g, c in zip(guess, code, strict=True))
    common = sum((Counter(guess) & Counter(code)).values())
    return black, common - black


@dataclass
class Mastermind(Game):
    name: ClassVar[str] = "mastermind"
    rules: ClassVar[str] = (
        "We are playing Mastermind. Find the secret code: a row of colored pegs, each color a "
        "letter, and colors may repeat. After each guess you are told how many pegs are the "
        "right color in the right place (black) and how many more are a right color in the "
        "wrong place (white). You win by guessing the code within the allowed guesses."
    )
    move_example: ClassVar[str] = "ABCD"

    pegs: int = 4
    colors: int = 6
    code: str = ""
    guesses: list[tuple[str, int, int]] = field(default_factory=list)

    @classmethod
    def new(cls, seed: int, difficulty: Difficulty) -> Mastermind:
        pegs, colors, guesses = LEVELS[difficulty]
        rng = random.Random(f"mastermind:{seed}")
        code = "".join(rng.choice(string.ascii_uppercase[:colors]) for _ in range(pegs))
        return cls(max_moves=guesses, pegs=pegs, colors=colors, code=code)

    def example(self) -> str:
        return self.palette[: self.pegs]

    @property
    def palette(self) -> str:
        return string.ascii_uppercase[: self.colors]

    def apply(self, move: str) -> str:
        guess = "".join(move.upper().split())
        if len(guess) != self.pegs or any(peg not in self.palette for peg in guess):
            raise IllegalMove(
                f"{move!r} is not a code: write {self.pegs} letters from "
                f"{', '.join(self.palette)} (e.g. {self.example()})"
            )
        black, white = score(guess, self.code)
        self.guesses.append((guess, black, white))
        self.won = black == self.pegs
        return (
            f"{guess} is the code: you win!"
            if self.won
            else f"{guess}: {black} black, {white} white"
        )

    def board(self) -> str:
        lines = [f"{guess}  black {black}, white {white}" for guess, black, white in self.guesses]
        return "\n".join(
            [
                f"Mastermind: a code of {self.pegs} pegs, colors {' '.join(self.palette)}. "
                f"Guess {self.moves + 1} of {self.max_moves}.",
                *(["Your guesses so far:", *lines] if lines else ["No guesses yet."]),
            ]
        )


def solve(pegs: int, colors: int, answer: Callable[[str], tuple[int, int]]) -> list[str]:
    """The guesses that find a code from its scores alone: a fixed opening, then the first
    code still possible, or once fewer than `MINIMAX_BELOW` are, the one whose worst score
    leaves the fewest (Knuth's minimax, over the possible codes only)."""
    palette = string.ascii_uppercase[:colors]
    possible = ["".join(code) for code in itertools.product(palette, repeat=pegs)]
    guess = "".join(palette[i // 2] for i in range(pegs))  # AABB, AABBC
    played = []
    while True:
        played.append(guess)
        result = answer(guess)
        if result[0] == pegs:
            return played
        possible = [code for code in possible if score(guess, code) == result]
        guess = _best(possible) if len(possible) < MINIMAX_BELOW else possible[0]


def _best(possible: list[str]) -> str:
    def worst(guess: str) -> int:
        return max(Counter(score(guess, code) for code in possible).values())

    return min(possible, key=worst)
