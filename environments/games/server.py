"""The games environment: the model sees the board as text and answers with a move; the
environment plays it and answers with the next board, until the game is won or lost.

The reward reads the game's state, never the transcript: 1 when the game was won, else 0. An
answer without one valid move is told so and counted; `MAX_INVALID` of them lose the game.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from environments.games.catalog import MAX_INVALID, GameName, new_game, turn, warm_up
from environments.games.moves import read_move
from environments.games.rules import Difficulty, Game, IllegalMove
from resources_server import ResourcesServer, TaskFields, Trajectory, Verdict

__all__ = ["GameTask", "GamesServer"]


class GameTask(TaskFields):
    game: GameName
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)]
    """Which game of its kind: the same seed and difficulty always give the same game."""
    difficulty: Difficulty


@dataclass
class Play:
    """One episode: the game, and the answers seen so far."""

    game: Game
    answers: int = 0
    """Assistant messages played (a repeated `respond` for the same message plays nothing)."""
    invalid: int = 0
    last_reply: str | None = None


class GamesServer(ResourcesServer[GameTask, Play]):
    """Reward 1 when the game is won."""

    task_model = GameTask

    async def startup(self) -> None:
        await asyncio.to_thread(warm_up)

    async def seed(self, task: GameTask) -> Play:
        return Play(game=new_game(task.game, task.seed, task.difficulty))

    async def respond(self, task: GameTask, state: Play, trajectory: Trajectory) -> str | None:
        answers = sum(message.role == "assistant" for message in trajectory.messages)
        if answers <= state.answers or state.game.over:
            return None if state.game.over else state.last_reply
        state.answers = answers
        state.last_reply = self._play(state, trajectory.final_text)
        return None if state.game.over else state.last_reply

    def _play(self, state: Play, text: str) -> str:
        reading = read_move(text)
        try:
            if reading.move is None:
                raise IllegalMove(reading.problem)
            return turn(state.game, state.game.play(reading.move))
        except IllegalMove as error:
            state.invalid += 1
            if state.invalid >= MAX_INVALID:
                state.game.lost = True
            count = f"invalid moves so far: {state.invalid}; the game is lost at {MAX_INVALID}"
            return turn(state.game, f"Invalid move: {error}. ({count}.)")

    async def verify(self, task: GameTask, trajectory: Trajectory, state: Play) -> Verdict:
        game = state.game
        return Verdict(
            reward=float(game.won),
            metrics={
                "game": task.game,
                "difficulty": task.difficulty,
                "won": game.won,
                "moves": game.moves,
                "invalid_moves": state.invalid,
                "finished": game.over,
            },
        )
