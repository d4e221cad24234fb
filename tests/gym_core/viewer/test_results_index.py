"""The index follows a results file as `gym rollout` writes it: appended rows, a half-written
last line, a retried sample's later row, a file rewritten in place, a line that is no result."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gym_core.viewer.index import ResultsIndex, row_id, split_row_id, summarize_line
from tests.gym_core.viewer.conftest import built_result, built_results, rollout_line


@pytest.fixture
def indexed() -> Iterator[Callable[..., ResultsIndex]]:
    """Indexes of the files given, read once; closed after the test."""
    opened: list[ResultsIndex] = []

    def index_of(*paths: Path) -> ResultsIndex:
        opened.append(ResultsIndex(list(paths)))
        opened[-1].refresh()
        return opened[-1]

    yield index_of
    for index in opened:
        index.close()


def test_rows_appended_to_a_file_are_found_on_the_next_refresh(
    tmp_path: Path, indexed: Callable[..., ResultsIndex]
) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(rollout_line(built_result("a")))
    index = indexed(path)
    assert [row.task_id for row in index.rows] == ["a"]
    assert index.refresh() is False
    line = rollout_line(built_result("b"))
    with path.open("ab") as sink:
        sink.write(line[:40])  # `gym rollout` is mid-write
        sink.flush()
        assert index.refresh() is False
        assert len(index.rows) == 1
        sink.write(line[40:])
    version = index.version
    assert index.refresh() is True
    assert index.version == version + 1
    assert [row.task_id for row in index.rows] == ["a", "b"]
    second = index.rows[1]
    assert index.read(second) == line
    assert split_row_id(row_id(second)) == (0, len(rollout_line(built_result("a"))))


def test_a_later_row_of_the_same_sample_replaces_the_earlier(
    tmp_path: Path, indexed: Callable[..., ResultsIndex]
) -> None:
    """As `gym rollout --retry-failed` leaves a file it was interrupted in."""
    path = tmp_path / "results.jsonl"
    failed = built_result("a", reward=None, status="truncated")
    path.write_bytes(rollout_line(failed) + rollout_line(built_result("a", reward=0.5)))
    index = indexed(path)
    assert [(row.task_id, row.reward) for row in index.rows] == [("a", 0.5)]
    assert index.find(0, 0) is None


def test_a_file_rewritten_in_place_is_indexed_again(
    tmp_path: Path, indexed: Callable[..., ResultsIndex]
) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(b"".join(rollout_line(result) for result in built_results()))
    index = indexed(path)
    assert len(index.rows) == len(built_results())
    staging = tmp_path / "staging"
    staging.write_bytes(rollout_line(built_result("only")))
    os.replace(staging, path)
    assert index.refresh() is True
    assert [row.task_id for row in index.rows] == ["only"]


def test_lines_that_are_no_result_are_counted_not_shown(
    tmp_path: Path, indexed: Callable[..., ResultsIndex]
) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"not": "a result"}\n\nnot json\n' + rollout_line(built_result("a")))
    index = indexed(path)
    assert [row.task_id for row in index.rows] == ["a"]
    assert index.unreadable == 2


def test_several_files_and_a_search_over_them(
    tmp_path: Path, indexed: Callable[..., ResultsIndex]
) -> None:
    first, second = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    first.write_bytes(rollout_line(built_result("a")))
    found = built_result("b")
    found.messages[0].content = 'Say "Größe" twice'
    second.write_bytes(rollout_line(built_result("c")) + rollout_line(found))
    index = indexed(first, second)
    assert [(row.file, row.task_id) for row in index.rows] == [(0, "a"), (1, "c"), (1, "b")]
    row = index.rows[2]
    assert index.search('"größe"') == {row}
    assert index.search("BOOKED: Monday") == set(index.rows)
    assert index.search("nowhere to be found") == set()


def test_summaries_count_tokens_turns_and_timing(
    tmp_path: Path, indexed: Callable[..., ResultsIndex]
) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(rollout_line(built_result("a")))
    [row] = indexed(path).rows
    assert (row.turns, row.tokens, row.generated) == (2, 8, 3)
    assert (row.version_min, row.version_max, row.total_s) == (3, 3, 1.5)
    assert row.prefix_consistent is True


def test_a_line_in_another_layout_gets_the_same_summary(tmp_path: Path) -> None:
    """`gym rollout`'s compact lines are read without their token view; any other JSON layout
    of the same result (here the standard library's, with spaces) is parsed whole, alike."""
    compact = rollout_line(built_result("a"))
    spaced = json.dumps(json.loads(compact)).encode() + b"\n"
    assert b'"token_view": {' in spaced
    first, second = (summarize_line(line, 0, 0) for line in (compact, spaced))
    assert first is not None
    assert second is not None
    assert first[0].tokens == second[0].tokens == 8
    assert dataclasses.astuple(first[0]) == dataclasses.astuple(second[0])
    assert first[1] == second[1]
