"""Winning play for every game, from what the model sees (the board and the marks) and the
secret-free knowledge of which secrets a difficulty draws from: the reference solutions, the
tests and the benchmark play these moves."""

from __future__ import annotations

import copy

from environments.games import frozen_lake, mastermind, wordle
from environments.games.frozen_lake import FrozenLake
from environments.games.mastermind import Mastermind
from environments.games.rules import Difficulty, Game
from environments.games.wordle import Wordle

__all__ = ["winning_moves", "wrong_last_move"]


def winning_moves(game: Game, difficulty: Difficulty) -> list[str]:
    """The moves that win `game` (played on a copy: `game` is left as it is)."""
    trial = copy.deepcopy(game)
    if isinstance(trial, Wordle):
        return wordle.solve(difficulty, lambda guess: wordle.marks(guess, trial.secret))
    if isinstance(trial, FrozenLake):
        return frozen_lake.shortest_path(trial.tiles)
    if isinstance(trial, Mastermind):
        return mastermind.solve(trial.pegs, trial.colors, lambda g: mastermind.score(g, trial.code))
    raise TypeError(f"no solver for {type(game).__name__}")


def wrong_last_move(game: Game, move: str) -> str:
    """A legal move in place of the winning `move` that does not win: a near miss."""
    if isinstance(game, Wordle):
        return next(word for word in wordle.secret_pool("easy") if word != game.secret)
    if isinstance(game, FrozenLake):
        opposite = {"left": "right", "right": "left", "up": "down", "down": "up"}
        return opposite[move]
    if isinstance(game, Mastermind):
        first = game.palette[(game.palette.index(move[0]) + 1) % game.colors]
        return first + move[1:]
    raise TypeError(f"no near miss for {type(game).__name__}")
