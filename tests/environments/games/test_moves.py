"""Reading the one move an answer makes."""

from __future__ import annotations

import pytest

from environments.games.moves import read_move


@pytest.mark.parametrize(
    ("text", "move"),
    [
        ("Move: up", "up"),
        ("I will go right.\n**Move:** `right`", "right"),
        ('Final move: "crane".', "crane"),
        ("move = ABCD", "ABCD"),
        ("<think>Move: up</think>Left is safer.\nMove: left", "left"),
        ("Move: up\nmove: UP", "UP"),  # the same move twice is one move (the last is read)
    ],
)
def test_the_move_line_is_read(text: str, move: str) -> None:
    assert read_move(text).move == move


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("I would go up.", "there is no `Move:` line"),
        ("<think>Move: up", "there is no `Move:` line"),  # cut off while thinking
        ("Move: up\nMove: down", "names several moves"),
        ("Move: up, right", "names several moves"),
        ("Move: crane then slate", "names several moves"),
        ("Move:", "empty"),
    ],
)
def test_no_move_or_several_moves_is_no_move(text: str, problem: str) -> None:
    reading = read_move(text)
    assert reading.move is None
    assert problem in (reading.problem or "")
