"""The games' rules and solvers: FrozenLake moves as Gymnasium's env moves, Wordle and
Mastermind mark guesses as the games do, every solver wins, and a seed makes one game."""

from __future__ import annotations

import random

import pytest
from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv

from environments.games.catalog import GAMES, new_game
from environments.games.frozen_lake import MOVES, FrozenLake
from environments.games.mastermind import Mastermind, score
from environments.games.rules import Difficulty, IllegalMove
from environments.games.solvers import winning_moves
from environments.games.wordle import Wordle, guess_list, marks, secret_pool

LEVELS: tuple[Difficulty, ...] = ("easy", "medium", "hard")


@pytest.mark.parametrize("difficulty", LEVELS)
def test_frozen_lake_moves_as_gymnasium_does(difficulty: Difficulty) -> None:
    actions = list(MOVES)  # Gymnasium's order: 0 left, 1 down, 2 right, 3 up
    for seed in range(10):
        ours = FrozenLake.new(seed, difficulty)
        theirs = FrozenLakeEnv(desc=ours.tiles, is_slippery=False)
        theirs.reset(seed=seed)
        rng = random.Random(seed)
        while not ours.over:
            action = rng.randrange(4)
            ours.play(actions[action])
            state, reward, terminated, _, _ = theirs.step(action)
            assert state == ours.row * len(ours.tiles) + ours.col
            assert (reward == 1.0, terminated) == (ours.won, ours.tiles[ours.row][ours.col] in "GH")


@pytest.mark.parametrize(
    ("guess", "secret", "marked"),
    [
        ("crane", "crane", "GGGGG"),
        ("speed", "abide", "--Y-Y"),  # two e's guessed, one in the word: the first is marked
        ("eerie", "there", "Y-Y-G"),  # the green e takes one e of the two, the first the other
        ("lolly", "hello", "-YGG-"),  # both l's of the word are green: the first l is gray
    ],
)
def test_wordle_marks_letters_as_the_game_does(guess: str, secret: str, marked: str) -> None:
    assert marks(guess, secret) == marked


def test_mastermind_scores_black_then_white() -> None:
    assert score("AABB", "ABAB") == (2, 2)
    assert score("ABCD", "DCBA") == (0, 4)
    assert score("AAAA", "ABCD") == (1, 0)


def test_wordle_refuses_words_not_in_the_list_without_spending_a_guess() -> None:
    game = Wordle.new(0, "easy")
    with pytest.raises(IllegalMove, match="not in the word list"):
        game.play("qzxvj")
    with pytest.raises(IllegalMove, match="five-letter"):
        game.play("cranes")
    assert game.moves == 0
    assert {"crane", "cards", "about"} <= guess_list()  # plurals are guesses
    assert all(len(word) == 5 for word in secret_pool("hard"))


def test_mastermind_refuses_a_code_of_the_wrong_shape() -> None:
    game = Mastermind.new(0, "easy")
    with pytest.raises(IllegalMove, match="4 letters from A, B, C, D, E, F"):
        game.play("ABCG")
    assert game.play("a b c d").startswith("ABCD")  # case and spaces do not matter


@pytest.mark.parametrize("name", list(GAMES))
@pytest.mark.parametrize("difficulty", LEVELS)
def test_every_solver_wins_within_the_moves_allowed(name: str, difficulty: Difficulty) -> None:
    for seed in range(5):
        game = new_game(name, seed, difficulty)  # type: ignore[arg-type]
        moves = winning_moves(game, difficulty)
        for move in moves:
            assert not game.over
            game.play(move)
        assert game.won, (name, difficulty, seed, moves)


@pytest.mark.parametrize("name", list(GAMES))
def test_a_seed_makes_one_game_and_other_seeds_others(name: str) -> None:
    boards = {new_game(name, seed, "medium").__dict__.__repr__() for seed in range(8)}  # type: ignore[arg-type]
    assert new_game(name, 3, "medium") == new_game(name, 3, "medium")  # type: ignore[arg-type]
    assert len(boards) > 4
