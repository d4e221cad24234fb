"""Reference solutions: the file format and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from gym_core.errors import ConfigError
from gym_core.hub.solutions import (
    Cheat,
    SayStep,
    Solution,
    ToolStep,
    cheats_jsonl,
    load_cheats,
    load_solutions,
    solutions_jsonl,
    steps_of,
)


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_a_solution_is_a_final_message_or_a_list_of_steps(tmp_path: Path) -> None:
    path = write(
        tmp_path / "solutions.jsonl",
        '{"id": "a", "reference": "\\\\boxed{3}", "wrong": "\\\\boxed{2}"}',
        "",
        '{"id": "b", "reference": [{"call": "count", "arguments": {"word": "aa"}}, {"say": "2"}],'
        ' "wrong": [{"say": "1"}]}',
    )
    solutions = load_solutions(path)
    assert steps_of(solutions["a"].reference) == [SayStep(say="\\boxed{3}")]
    assert steps_of(solutions["b"].reference) == [
        ToolStep(call="count", arguments={"word": "aa"}),
        SayStep(say="2"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "reference": "x"}', "line 1: wrong: Field required"),
        ('{"id": "a", "reference": [], "wrong": "y"}', "line 1: reference"),
        ('{"id": "a", "reference": [{"shout": "x"}], "wrong": "y"}', "line 1: reference"),
        ("{not json", "line 1: not valid JSON"),
    ],
)
def test_a_bad_line_is_named_with_its_field(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_solutions(write(tmp_path / "solutions.jsonl", line))


def test_two_solutions_for_one_task_are_an_error(tmp_path: Path) -> None:
    row = '{"id": "a", "reference": "x", "wrong": "y"}'
    with pytest.raises(ConfigError, match="line 2: a second solution for task 'a'"):
        load_solutions(write(tmp_path / "solutions.jsonl", row, row))


def test_a_written_file_loads_back(tmp_path: Path) -> None:
    made = [
        Solution(id="a", reference="\\boxed{3}", wrong="\\boxed{2}"),
        Solution(
            id="b",
            reference=[ToolStep(call="count", arguments={"word": "aa"}), SayStep(say="2")],
            wrong=[SayStep(say="1")],
        ),
    ]
    path = tmp_path / "solutions.jsonl"
    path.write_bytes(solutions_jsonl(made))
    assert load_solutions(path) == {solution.id: solution for solution in made}
    assert path.read_text().count("\n") == 2


def test_cheats_load_in_order_and_write_back(tmp_path: Path) -> None:
    made = [
        Cheat(id="a", cheat="echo_prompt", attempt="What is 2 + 2?"),
        Cheat(id="a", cheat="empty_box", attempt="\\boxed{}"),
        Cheat(
            id="b",
            cheat="tool_without_answer",
            attempt=[ToolStep(call="count", arguments={"word": "aa"}), SayStep(say="done")],
        ),
    ]
    path = tmp_path / "cheats.jsonl"
    path.write_bytes(cheats_jsonl(made))
    assert load_cheats(path) == made


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": "a", "cheat": "Echo Prompt", "attempt": "x"}'], "line 1: cheat: String should"),
        (['{"id": "a", "cheat": "echo", "attempt": []}'], "line 1: attempt"),
        (['{"id": "a", "attempt": "x"}'], "line 1: cheat: Field required"),
        (
            ['{"id": "a", "cheat": "echo", "attempt": "x"}'] * 2,
            "line 2: a second cheat 'echo' for task 'a'",
        ),
    ],
)
def test_a_bad_cheat_is_named_with_its_line(tmp_path: Path, lines: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_cheats(write(tmp_path / "cheats.jsonl", *lines))
