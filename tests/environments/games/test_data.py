"""The bundled games: what the generator makes, with the solutions and cheats the script
makes; and `gym data generate games` writes the same file for the same arguments."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from environments.games.generate import generate_tasks
from environments.games.make_solutions import (
    CHEATS,
    SOLUTIONS,
    TASKS,
    bundled_rows,
    cheats,
    solutions,
)
from gym_core.cli import main
from gym_core.hub.solutions import cheats_jsonl, solutions_jsonl, tasks_jsonl


def test_the_bundled_tasks_solutions_and_cheats_are_what_the_script_makes() -> None:
    rows = bundled_rows()
    references = solutions(rows)
    assert TASKS.read_bytes() == tasks_jsonl(rows)
    assert SOLUTIONS.read_bytes() == solutions_jsonl(references)
    assert CHEATS.read_bytes() == cheats_jsonl(cheats(rows, references))
    assert Counter((row["game"], row["difficulty"]) for row in rows) == {
        (game, level): 11
        for game in ("wordle", "frozen_lake", "mastermind")
        for level in ("easy", "medium", "hard")
    }


def test_gym_data_generate_writes_the_same_games_for_the_same_arguments(tmp_path: Path) -> None:
    paths = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for path in paths:
        argv = ["data", "generate", "games", "--n", "6", "--seed", "4", "--difficulty", "hard"]
        assert main([*argv, "--out", str(path)]) == 0
    rows = [orjson.loads(line) for line in paths[0].read_bytes().splitlines()]
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert [row["game"] for row in rows] == ["wordle", "frozen_lake", "mastermind"] * 2
    assert rows == [{**row, "env": "games"} for row in generate_tasks(6, 4, "hard")]
    assert generate_tasks(6, 5, "hard") != generate_tasks(6, 4, "hard")
