"""FrozenLake: walk from the start to the goal across a frozen lake without falling into a hole.

The maps are Gymnasium's (`generate_random_map`: seeded, and always with a path to the goal);
the moves follow its `FrozenLakeEnv` with `is_slippery=False` (a move into the edge stays put
and still counts; a hole or the goal ends the game), which a test checks step by step.
Gymnasium is imported only when a map is made.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar

from environments.games.rules import Difficulty, Game, IllegalMove

__all__ = ["LEVELS", "MOVES", "FrozenLake", "shortest_path"]

MOVES = {"left": (0, -1), "down": (1, 0), "right": (0, 1), "up": (-1, 0)}
LEVELS: dict[Difficulty, tuple[int, float, int]] = {
    "easy": (4, 0.8, 16),
    "medium": (6, 0.8, 30),
    "hard": (8, 0.75, 48),
}
"""Per difficulty: the side of the map, the chance a tile is frozen, and the moves allowed."""


def random_map(size: int, frozen: float, seed: int) -> list[str]:
    from gymnasium.envs.toy_text.frozen_lake import generate_random_map

    return generate_random_map(size=size, p=frozen, seed=seed)


@dataclass
class FrozenLake(Game):
    name: ClassVar[str] = "frozen_lake"
    rules: ClassVar[str] = (
        "We are playing FrozenLake. The map is a grid: S is the start, F frozen ice you can "
        "walk on, H a hole (stepping in it loses the game), G the goal, and P is where you "
        "stand; row 1 is the top row. Each move takes one step: left, right, up or down. "
        "Walking into the edge of the map leaves you where you are. You win by reaching G "
        "within the allowed moves."
    )
    move_example: ClassVar[str] = "right"

    tiles: list[str] = field(default_factory=list)
    row: int = 0
    col: int = 0

    @classmethod
    def new(cls, seed: int, difficulty: Difficulty) -> FrozenLake:
        size, frozen, moves = LEVELS[difficulty]
        return cls(max_moves=moves, tiles=random_map(size, frozen, seed))

    def apply(self, move: str) -> str:
        direction = move.strip().lower()
        if direction not in MOVES:
            raise IllegalMove(f"{move!r} is not a move: write left, right, up or down")
        step_row, step_col = MOVES[direction]
        row, col = self.row + step_row, self.col + step_col
        if not (0 <= row < len(self.tiles) and 0 <= col < len(self.tiles[0])):
            return f"You moved {direction} into the edge and stayed where you were."
        self.row, self.col = row, col
        tile = self.tiles[row][col]
        self.won, self.lost = tile == "G", tile == "H"
        ending = {"G": " and reached the goal: you win!", "H": " and fell into a hole."}
        return f"You moved {direction}{ending.get(tile, '.')}"

    def board(self) -> str:
        rows = [
            " ".join("P" if (r, c) == (self.row, self.col) else tile for c, tile in enumerate(line))
            for r, line in enumerate(self.tiles)
        ]
        left = self.max_moves - self.moves
        return "\n".join(
            [
                f"FrozenLake, {left} moves left. You are at row {self.row + 1}, column "
                f"{self.col + 1}.",
                *rows,
            ]
        )


def shortest_path(tiles: list[str]) -> list[str]:
    """The fewest moves from S to G over frozen tiles (breadth-first search)."""
    size_r, size_c = len(tiles), len(tiles[0])
    goal = (size_r - 1, size_c - 1)
    came: dict[tuple[int, int], tuple[tuple[int, int], str] | None] = {(0, 0): None}
    queue = deque([(0, 0)])
    while queue:
        here = queue.popleft()
        if here == goal:
            break
        for name, (dr, dc) in MOVES.items():
            there = (here[0] + dr, here[1] + dc)
            if (
                0 <= there[0] < size_r
                and 0 <= there[1] < size_c
                and there not in came
                and tiles[there[0]][there[1]] != "H"
            ):
                came[there] = (here, name)
                queue.append(there)
    path: list[str] = []
    step = came.get(goal)
    while step is not None:
        here, name = step
        path.append(name)
        step = came[here]
    return path[::-1]
