"""What every game is: a board the model reads and moves it makes, until a win or a loss.

Set in ALL games: `name`, `rules`, `move_example`, a `new(seed, difficulty)` constructor,
`apply` and `board`. A game is plain data (it is pickled with the session), and the same
`(seed, difficulty)` always gives the same game.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

__all__ = ["Difficulty", "Game", "IllegalMove"]

Difficulty = Literal["easy", "medium", "hard"]


class IllegalMove(Exception):
    """A move the rules refuse (a word not in the list, a code of the wrong length): the
    message is told to the model, and the move is counted as invalid, not played."""


@dataclass
class Game(ABC):
    """One game's state."""

    name: ClassVar[str]
    rules: ClassVar[str]
    """How the game is played, for the system prompt."""
    move_example: ClassVar[str]
    """One move as the model writes it after `Move:` (override `example` when it depends on
    the game)."""

    max_moves: int
    """Moves played (legal ones) after which a game not yet won is lost."""
    moves: int = 0
    won: bool = False
    lost: bool = False

    @property
    def over(self) -> bool:
        return self.won or self.lost

    def play(self, move: str) -> str:
        """Play `move` (raises `IllegalMove`); returns what happened, in a sentence."""
        said = self.apply(move)
        self.moves += 1
        if not self.won and self.moves >= self.max_moves:
            self.lost = True
        return said

    def example(self) -> str:
        return self.move_example

    @abstractmethod
    def apply(self, move: str) -> str:
        """The game's own rule for one move: update the state, set `won` or `lost`."""

    @abstractmethod
    def board(self) -> str:
        """The state as the model sees it."""
