"""The games environment end to end: real agent, policy and resources servers on loopback,
a scripted engine playing over HTTP; and the resources server's own routes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest

from environments.games.catalog import MAX_INVALID, new_game
from environments.games.frozen_lake import MOVES
from environments.games.make_solutions import bundled_rows
from environments.games.solvers import winning_moves, wrong_last_move
from gym_core.http_client import HttpClient
from gym_core.protocol import RolloutResult
from gym_core.rollout_client import AsyncRolloutClient
from gym_core.settings import ResourcesServerSettings
from tests.conftest import gym_stack, resources_server, scripted_engine


def first(game: str, difficulty: str) -> dict[str, Any]:
    return next(r for r in bundled_rows() if r["game"] == game and r["difficulty"] == difficulty)


LAKE = first("frozen_lake", "easy")
WORDLE = first("wordle", "medium")
MASTERMIND = first("mastermind", "easy")


def game_of(row: dict[str, Any]) -> Any:
    return new_game(row["game"], row["seed"], row["difficulty"])


def lake_rules(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The shortest path, one rule per square on it: where the board says you are, the move."""
    rules, (r, c) = [], (0, 0)
    for move in winning_moves(game_of(row), row["difficulty"]):
        where = f"You are at row {r + 1}, column {c + 1}\\."
        rules.append({"role": "user", "match": where, "reply": f"Onwards.\nMove: {move}"})
        r, c = r + MOVES[move][0], c + MOVES[move][1]
    return rules


def mastermind_replies(row: dict[str, Any]) -> list[str]:
    """Two invalid answers (no move; two moves), then the solver's guesses."""
    moves = winning_moves(game_of(row), row["difficulty"])
    return ["I need to think.", "Move: AABB, CCDD", *(f"**Move:** {m}" for m in moves)]


@pytest.fixture(scope="module")
def played() -> dict[str, RolloutResult]:
    wordle = game_of(WORDLE)
    wrong = wrong_last_move(wordle, wordle.secret)
    rules = [
        *lake_rules(LAKE),
        {"role": "user", "match": "Wordle, guess", "reply": f"Move: {wrong}"},
        {"role": "user", "match": "Mastermind: a code", "replies": mastermind_replies(MASTERMIND)},
    ]
    with scripted_engine(rules) as engine, gym_stack(["games"], [engine]) as running:

        async def run() -> list[RolloutResult]:
            async with AsyncRolloutClient(running.endpoint) as client:
                return await client.rollouts([LAKE, WORDLE, MASTERMIND])

        results = asyncio.run(run())
    return {result.task_id: result for result in results}


def test_a_won_game_earns_1_with_its_moves_in_metrics(played: dict[str, RolloutResult]) -> None:
    result = played[LAKE["id"]]
    path = winning_moves(game_of(LAKE), "easy")
    assert (result.status, result.reward) == ("completed", 1.0)
    assert result.metrics["won"] is True
    assert result.metrics["moves"] == len(path) == result.metrics["num_turns"]
    assert result.metrics["invalid_moves"] == 0
    assert result.metrics["game"] == "frozen_lake"
    assert "You moved" in (result.messages[-2].content or "")  # the last board before the win


def test_a_lost_game_earns_0(played: dict[str, RolloutResult]) -> None:
    result = played[WORDLE["id"]]
    assert (result.status, result.reward) == ("completed", 0.0)
    assert result.metrics["won"] is False
    assert result.metrics["moves"] == 6  # every guess of a medium game spent
    assert result.metrics["finished"] is True


def test_invalid_moves_are_told_to_the_model_counted_and_not_fatal(
    played: dict[str, RolloutResult],
) -> None:
    result = played[MASTERMIND["id"]]
    told = [m.content or "" for m in result.messages if m.role == "user"]
    assert "Invalid move: there is no `Move:` line" in told[1]
    assert "names several moves" in told[2]
    assert result.metrics["invalid_moves"] == 2
    assert (result.status, result.reward) == ("completed", 1.0)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = ResourcesServerSettings(
        name="games", server="environments.games.server:GamesServer", cpu_workers=1
    )
    with resources_server(settings) as url:
        yield url


def conversation(row: dict[str, Any], *answers: str) -> list[dict[str, Any]]:
    messages = list(row["prompt"])
    for answer in answers:
        messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": "."}]
    return messages[:-1]


async def test_invalid_answers_up_to_the_cap_lose_the_game(url: str) -> None:
    async with HttpClient(timeout_s=30) as http:
        session = (await http.post(f"{url}/sessions", {"task": LAKE}))["session_id"]
        answers: list[str] = []
        replies = []
        for number in range(MAX_INVALID + 1):
            answers.append(f"Move: sideways {number}")
            body = {"messages": conversation(LAKE, *answers)}
            replies.append(await http.post(f"{url}/sessions/{session}/respond", body))
        verdict = await http.post(
            f"{url}/sessions/{session}/verify", {"messages": conversation(LAKE, *answers)}
        )
    assert "is not a move: write left, right, up or down" in replies[0]["messages"][0]["content"]
    assert [len(reply["messages"]) for reply in replies] == [1] * (MAX_INVALID - 1) + [0, 0]
    assert verdict["reward"] == 0.0
    assert verdict["metrics"]["invalid_moves"] == MAX_INVALID


async def test_the_same_answer_sent_twice_is_played_once(url: str) -> None:
    async with HttpClient(timeout_s=30) as http:
        session = (await http.post(f"{url}/sessions", {"task": LAKE}))["session_id"]
        body = {"messages": conversation(LAKE, "Move: right")}
        once = await http.post(f"{url}/sessions/{session}/respond", body)
        twice = await http.post(f"{url}/sessions/{session}/respond", body)
        verdict = await http.post(f"{url}/sessions/{session}/verify", body)
    assert once == twice
    assert verdict["metrics"]["moves"] == 1


async def test_claiming_a_win_earns_nothing(url: str) -> None:
    async with HttpClient(timeout_s=30) as http:
        session = (await http.post(f"{url}/sessions", {"task": WORDLE}))["session_id"]
        body = {"messages": conversation(WORDLE, "I guessed it, I won!")}
        await http.post(f"{url}/sessions/{session}/respond", body)
        verdict = await http.post(f"{url}/sessions/{session}/verify", body)
    assert verdict["reward"] == 0.0


@pytest.mark.parametrize(
    ("change", "field"),
    [({"game": "chess"}, "game"), ({"seed": -1}, "seed"), ({"difficulty": "brutal"}, "difficulty")],
)
async def test_a_bad_task_is_refused_naming_the_field(
    url: str, change: dict[str, Any], field: str
) -> None:
    async with HttpClient(timeout_s=30) as http:
        with pytest.raises(Exception, match=re.escape(field)) as raised:
            await http.post(f"{url}/sessions", {"task": {**LAKE, **change}})
    assert "422" in str(raised.value)
