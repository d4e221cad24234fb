"""The games by name, and what the model is told: the system prompt and each board.

A task names its game, seed and difficulty; `new_game` turns them into the game, and the
same three always give the same game (the generator writes the opening board into the
prompt, the server plays from its own copy).
"""

from __future__ import annotations

from typing import Literal

from environments.games.frozen_lake import FrozenLake
from environments.games.mastermind import Mastermind
from environments.games.rules import Difficulty, Game
from environments.games.wordle import Wordle

__all__ = [
    "GAMES",
    "MAX_INVALID",
    "GameName",
    "new_game",
    "opening",
    "system_prompt",
    "turn",
    "warm_up",
]

GameName = Literal["wordle", "frozen_lake", "mastermind"]
GAMES: dict[str, type[Wordle] | type[FrozenLake] | type[Mastermind]] = {
    game.name: game for game in (Wordle, FrozenLake, Mastermind)
}
MAX_INVALID = 3
"""Invalid answers (no move, several moves, a move the rules refuse) after which the game is
lost."""


def new_game(name: GameName, seed: int, difficulty: Difficulty) -> Game:
    return GAMES[name].new(seed, difficulty)


def warm_up() -> None:
    """Load the word lists and import Gymnasium now, not in the first game's seed."""
    for name in GAMES:
        new_game(name, 0, "easy")  # type: ignore[arg-type]


def system_prompt(game: Game) -> str:
    return (
        f"{game.rules}\n\nThink as much as you like, then end your answer with one line "
        f"holding your move and nothing else, e.g.\nMove: {game.example()}\n"
        f"Make exactly one move per answer. An answer without a valid move counts as an "
        f"invalid move; after {MAX_INVALID} invalid moves the game is lost."
    )


def opening(game: Game) -> str:
    return f"{game.board()}\nYour move."


def turn(game: Game, said: str) -> str:
    """The environment's message after a move: what happened, then the board."""
    return f"{said}\n\n{game.board()}\nYour move."
