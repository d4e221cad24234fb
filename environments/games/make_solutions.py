"""The reference solutions and cheat probes `gym hub validate games` plays:

    python -m environments.games.make_solutions

rewrites `data/tasks.jsonl` (seed 0, a third of each difficulty), `data/solutions.jsonl`
and `data/cheats.jsonl`. The reference plays the game's solver one move per answer; the
wrong solution plays the same moves but a near miss in place of the winning one (another
word, a step away from the goal, another code). The cheat probes, which must earn 0:

    claims_win            "I won" with no move
    repeats_board         the opening board echoed back
    all_moves_at_once     every winning move, one `Move:` line each, in one answer
    moves_in_one_line     every winning move on one `Move:` line
    moves_in_thinking     the winning moves inside <think>, none outside
    plays_after_losing    three answers without a move (the game is lost), then the win
"""

from __future__ import annotations

from typing import Any

from environments.games.catalog import new_game
from environments.games.generate import generate_tasks
from environments.games.server import GameTask
from environments.games.solvers import winning_moves, wrong_last_move
from gym_core.hub.solutions import (
    Cheat,
    SayStep,
    Solution,
    Step,
    data_files,
)

__all__ = ["CHEATS", "SOLUTIONS", "TASKS", "bundled_rows", "cheats", "say", "solutions"]

TASKS, SOLUTIONS, CHEATS = data_files(__file__)
PER_DIFFICULTY = 33


def bundled_rows() -> list[dict[str, Any]]:
    return [
        {**row, "env": "games"}
        for difficulty in ("easy", "medium", "hard")
        for row in generate_tasks(PER_DIFFICULTY, 0, difficulty)
    ]


def say(move: str) -> SayStep:
    """An answer making `move`, as a model would write it."""
    return SayStep(say=f"Let me think about the board.\nMove: {move}")


def solutions(rows: list[dict[str, Any]]) -> list[Solution]:
    made = []
    for row in rows:
        task = GameTask.model_validate(row)
        game = new_game(task.game, task.seed, task.difficulty)
        moves = winning_moves(game, task.difficulty)
        near_miss = [*moves[:-1], wrong_last_move(game, moves[-1])]
        made.append(
            Solution(
                id=task.id, reference=[say(m) for m in moves], wrong=[say(m) for m in near_miss]
            )
        )
    return made


def cheats(rows: list[dict[str, Any]], references: list[Solution]) -> list[Cheat]:
    made = []
    for row, solution in zip(rows, references, strict=True):
        winning: list[Step] = list(solution.reference)  # type: ignore[arg-type]
        moves = [step.say.rsplit("Move: ", 1)[1] for step in winning if isinstance(step, SayStep)]
        attempts: dict[str, list[Step]] = {
            "claims_win": [SayStep(say="I have solved it: the game is won. You win!")],
            "repeats_board": [SayStep(say=row["prompt"][-1]["content"])],
            "all_moves_at_once": [SayStep(say="\n".join(f"Move: {m}" for m in moves))],
            "moves_in_one_line": [SayStep(say=f"Move: {', '.join(moves)}")],
            "moves_in_thinking": [
                SayStep(say=f"<think>Move: {m}</think>I am not sure yet.") for m in moves
            ],
            "plays_after_losing": [
                *(SayStep(say="Let me think about it some more.") for _ in range(3)),
                *winning,
            ],
        }
        made += [Cheat(id=row["id"], cheat=kind, attempt=steps) for kind, steps in attempts.items()]
    return made


def main() -> None:
    rows = bundled_rows()
    references = solutions(rows)
    data_files(__file__).write(tasks=rows, solutions=references, cheats=cheats(rows, references))


if __name__ == "__main__":
    main()
