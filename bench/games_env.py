"""How fast the games environment is: whole games through the services against an instant
scripted policy, and the resources server's own moves and verifications.

    .venv/bin/python -m bench.games_env [--tasks 30] [--samples 10] [--plays 300]

- `rollouts`: generated hard games (Wordle, FrozenLake, Mastermind in turn), every board
  answered with the solver's move by a scripted engine (one rule per board the game shows),
  so each rollout is a won game of several policy turns and environment replies;
- `server`: the bundled reference solutions played straight against one resources server
  (`gym hub validate`'s player, 16 at once): environment moves (`respond`) per second, then
  `verify` calls per second over HTTP (16 in flight).
Prints its figures; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import re
import time
from typing import Any

from bench.scripted_rollouts import mean_reward, p50_ms, timed_rollouts
from environments.games.catalog import new_game, opening, turn
from environments.games.generate import generate_tasks
from environments.games.make_solutions import SOLUTIONS, TASKS
from environments.games.solvers import winning_moves
from gym_core.http_client import HttpClient
from gym_core.hub.player import ScriptedPlayer, wire
from gym_core.hub.solutions import load_solutions, steps_of
from gym_core.settings import ResourcesServerSettings
from gym_core.tasks_file import load_tasks
from tests.conftest import resources_server

CONCURRENT_PLAYS = 16


def board_rules(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For every board each game shows on its way to a win, the solver's next move."""
    answers: dict[str, str] = {}
    for row in rows:
        game = new_game(row["game"], row["seed"], row["difficulty"])
        shown = opening(game)
        for move in winning_moves(copy.deepcopy(game), row["difficulty"]):
            answers[shown] = move
            shown = turn(game, game.play(move))
    return [
        {"role": "user", "match": f"^{re.escape(board)}$", "reply": f"Move: {move}"}
        for board, move in answers.items()
    ]


def bench_rollouts(tasks: int, samples: int) -> None:
    rows = [{**row, "env": "games"} for row in generate_tasks(tasks, 7, "hard")]
    elapsed, results = timed_rollouts("games", board_rules(rows), rows, samples, warm_up=3)
    turns = sum(len(r.turns) for r in results)
    print(
        f"rollouts: {len(results)} hard games ({len(rows)} tasks x {samples}), {turns} policy "
        f"turns in {elapsed:.2f}s: {len(results) / elapsed:.1f} rollouts/s, "
        f"{turns / elapsed:.0f} turns/s, episode p50 {p50_ms(results):.0f} ms, mean reward "
        f"{mean_reward(results):.2f}"
    )


async def verify_all(http: HttpClient, url: str, tasks: list[Any]) -> float:
    """Seconds to verify one finished session per task, 16 at once."""
    slots = asyncio.Semaphore(CONCURRENT_PLAYS)
    sessions = [
        (await http.post(f"{url}/sessions", {"task": wire(task)}))["session_id"] for task in tasks
    ]

    async def verify(task: Any, session: str) -> None:
        async with slots:
            body = {"messages": [wire(m) for m in task.messages()]}
            await http.post(f"{url}/sessions/{session}/verify", body)

    started = time.perf_counter()
    await asyncio.gather(*(verify(t, s) for t, s in zip(tasks, sessions, strict=True)))
    return time.perf_counter() - started


async def play_all(url: str, plays: int) -> tuple[float, int, float]:
    tasks = load_tasks(TASKS, env="games")
    solutions = load_solutions(SOLUTIONS)
    chosen = [tasks[i % len(tasks)] for i in range(plays)]
    moves = sum(len(steps_of(solutions[t.id].reference)) for t in chosen)
    slots = asyncio.Semaphore(CONCURRENT_PLAYS)
    async with HttpClient(timeout_s=60) as http:
        player = ScriptedPlayer(http, url)

        async def play(task: Any) -> None:
            async with slots:
                played = await player.play(task, steps_of(solutions[task.id].reference))
                assert played.verdict.reward == 1.0

        await play(chosen[0])  # warm up
        started = time.perf_counter()
        await asyncio.gather(*(play(task) for task in chosen))
        elapsed = time.perf_counter() - started
        return elapsed, moves, await verify_all(http, url, chosen)


def bench_server(plays: int) -> None:
    settings = ResourcesServerSettings(
        name="games", server="environments.games.server:GamesServer", cpu_workers=1
    )
    with resources_server(settings) as url:
        elapsed, moves, verify_s = asyncio.run(play_all(url, plays))
    print(
        f"server: {plays} bundled games played ({moves} moves) in {elapsed:.2f}s: "
        f"{moves / elapsed:.0f} moves/s, {plays / elapsed:.0f} games/s with seed and verify; "
        f"{plays} verify calls alone in {verify_s:.2f}s: {plays / verify_s:.0f} verifications/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=30, help="generated hard games")
    parser.add_argument("--samples", type=int, default=10, help="samples per game; 0 skips")
    parser.add_argument("--plays", type=int, default=300, help="0 skips the server figures")
    args = parser.parse_args()
    if args.plays:
        bench_server(args.plays)
    if args.samples:
        bench_rollouts(args.tasks, args.samples)


if __name__ == "__main__":
    main()
