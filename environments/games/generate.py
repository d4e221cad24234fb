"""Games without end (`gym data generate games ...`): Wordle, FrozenLake and Mastermind in
turn, each with its own seed. Task `i` depends only on (seed, difficulty, i):

    easy    Wordle of the 1000 most common words, 8 guesses; FrozenLake 4x4, 16 moves;
            Mastermind of 4 pegs in 6 colors, 10 guesses
    medium  Wordle of the 2000 most common words, 6 guesses; FrozenLake 6x6, 30 moves;
            Mastermind of 4 pegs in 8 colors, 10 guesses
    hard    Wordle of the 1000th to 3000th most common words, 6 guesses; FrozenLake 8x8 with
            more holes, 48 moves; Mastermind of 5 pegs in 8 colors, 10 guesses
"""

from __future__ import annotations

import random
from typing import Any

from environments.games.catalog import GAMES, new_game, opening, system_prompt
from environments.games.rules import Difficulty

__all__ = ["generate_tasks"]

SEED_RANGE = 2**31
DIFFICULTIES: tuple[Difficulty, ...] = ("easy", "medium", "hard")


def generate_tasks(n: int, seed: int, difficulty: str) -> list[dict[str, Any]]:
    """`n` task rows; the `games` entry's generator."""
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {', '.join(DIFFICULTIES)}, got {difficulty!r}")
    level: Difficulty = difficulty  # type: ignore[assignment]
    return [_task(index, seed, level) for index in range(n)]


def _task(index: int, seed: int, difficulty: Difficulty) -> dict[str, Any]:
    name = list(GAMES)[index % len(GAMES)]
    game_seed = random.Random(f"games:{seed}:{difficulty}:{index}").randrange(SEED_RANGE)
    game = new_game(name, game_seed, difficulty)  # type: ignore[arg-type]
    return {
        "id": f"games-{name}-{difficulty}-{seed}-{index:05d}",
        "game": name,
        "seed": game_seed,
        "difficulty": difficulty,
        "prompt": [
            {"role": "system", "content": system_prompt(game)},
            {"role": "user", "content": opening(game)},
        ],
    }
