"""`gym view` over HTTP, on a file a real `gym rollout` wrote (plus built rows): the table's
filters, sort and paging, the groups, the charts' numbers, one rollout and its tokens, bad
input, and rows that arrive while the viewer runs."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gym_core.cli import main
from gym_core.viewer.tokens import load_decoder
from tests.fixtures.serving import gym_view
from tests.gym_core.viewer.conftest import (
    SCRIPTED_ROLLOUTS,
    built_result,
    built_results,
    get,
    indexed,
    rollout_line,
    state_when,
)

TOTAL = SCRIPTED_ROLLOUTS + len(built_results())


@pytest.fixture(scope="module")
def api(results_file: Path) -> Iterator[str]:
    with gym_view(str(results_file)) as url:
        state_when(url, indexed)
        yield f"{url}/api"


def test_state_names_the_choices_of_the_filters(api: str, results_file: Path) -> None:
    state = get(f"{api}/state")
    assert state["rollouts"] == TOTAL
    assert state["envs"] == ["calendar", "math"]
    assert state["failures"] == ["policy_timeout"]
    assert state["files"] == [str(results_file)]
    assert state["policy_versions"] == [0, 3]


@pytest.mark.parametrize(
    ("params", "task_ids"),
    [
        ({"env": "math"}, ["four", "four", "six", "six", "timeout"]),
        ({"status": "failed"}, ["timeout"]),
        ({"failure": "policy_timeout"}, ["timeout"]),
        ({"reward_min": 1, "env": "math"}, ["four", "four"]),
        ({"reward_max": 0.5, "env": "calendar"}, ["split", "split"]),
        ({"version": 0}, ["four", "four", "six", "six"]),
        ({"group": "split"}, ["split"] * 4),
        ({"q": "what%20IS%202%2B2"}, ["four", "four"]),
        ({"q": "booked:%20monday", "env": "math"}, ["timeout"]),
    ],
)
def test_filters_narrow_the_table(api: str, params: dict[str, object], task_ids: list[str]) -> None:
    page = get(f"{api}/rollouts", **params)
    assert sorted(row["task_id"] for row in page["rows"]) == task_ids
    assert page["total"] == len(task_ids)


def test_sorted_by_reward_unscored_last_and_paged(api: str) -> None:
    page = get(f"{api}/rollouts", sort="reward", desc="true", limit=TOTAL)
    rewards = [row["reward"] for row in page["rows"]]
    assert rewards[-1] is None
    assert rewards[:-1] == sorted(rewards[:-1], reverse=True)
    second = get(f"{api}/rollouts", sort="reward", desc="true", offset=3, limit=3)
    assert second["total"] == TOTAL
    assert [row["id"] for row in second["rows"]] == [row["id"] for row in page["rows"][3:6]]
    by_tokens = [row["tokens"] for row in get(f"{api}/rollouts", sort="tokens")["rows"]]
    assert by_tokens == sorted(by_tokens)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "colour"}, "query.sort"),
        ({"limit": 0}, "query.limit"),
        ({"reward_min": "high"}, "query.reward_min"),
        ({"status": "done"}, "query.status"),
        ({"colour": "red"}, "query.colour"),
    ],
)
def test_bad_parameters_get_a_422_naming_them(
    api: str, params: dict[str, object], field: str
) -> None:
    answer = get(f"{api}/rollouts", **params)
    assert answer["status"] == 422
    assert answer["error"].startswith(f"{field}: ")


def test_groups_show_which_have_signal(api: str) -> None:
    without = get(f"{api}/groups", signal="without")
    assert sorted(group["task_id"] for group in without["groups"]) == [
        "broken",
        "four",
        "six",
        "timeout",
    ]
    [split] = get(f"{api}/groups", signal="with")["groups"]
    assert split["has_signal"] is True
    assert [sample["reward"] for sample in split["samples"]] == [0.0, 1.0, 0.0, 1.0]
    assert split["reward_mean"] == 0.5
    assert get(f"{api}/groups")["total"] == 5


def test_summary_counts_follow_the_filters(api: str) -> None:
    summary = get(f"{api}/summary")
    assert summary["rollouts"] == TOTAL
    assert summary["statuses"] == {"completed": TOTAL - 1, "failed": 1}
    assert summary["failures"] == {"policy_timeout": 1}
    assert summary["pass_at_k"]["math"] == {"1": 0.5, "2": 0.5}  # four passes, six never
    assert summary["pass_at_k"]["calendar"]["1"] == pytest.approx((2 / 4 + 1) / 2)
    assert sum(summary["rewards"]["counts"]["math"]) == 4  # the failed one is not scored
    assert set(summary["time_split"]["calendar"]) == {"policy_s", "tools_s", "verify_s", "other_s"}
    math_only = get(f"{api}/summary", env="math")
    assert math_only["rollouts"] == 5
    assert list(math_only["pass_at_k"]) == ["math"]


def test_a_real_rollout_and_its_token_view(api: str) -> None:
    [row] = get(f"{api}/rollouts", q="2%2B2", limit=1)["rows"]
    detail = get(f"{api}/rollouts/{row['id']}")
    assert [m["role"] for m in detail["result"]["messages"]] == ["user", "assistant"]
    assert detail["result"]["reward"] == 1.0
    layout = get(f"{api}/rollouts/{row['id']}/tokens")
    assert layout["source"] == "token_view"
    [segment] = layout["segments"]
    assert set(segment["mask"]) == {0, 1}
    for mask, logprob in zip(segment["mask"], segment["logprobs"], strict=True):
        assert (logprob is not None) == (mask == 1)
    assert segment["text"] is None  # no tokenizer given: ids only


def test_the_turn_where_the_prefix_broke(api: str) -> None:
    [row] = get(f"{api}/rollouts", group="broken")["rows"]
    layout = get(f"{api}/rollouts/{row['id']}/tokens")
    assert layout["source"] == "turns"
    assert layout["prefix_break_turn"] == 1
    first, second = layout["segments"]
    assert first["diverges_at"] is None
    assert second["diverges_at"] == 3
    assert second["ids"] == [1, 2, 30, 99, 40, 32]


def test_an_unknown_rollout_is_a_404_naming_it(api: str) -> None:
    for bad in ("0-1", "7-0", "nonsense"):
        answer = get(f"{api}/rollouts/{bad}")
        assert answer["status"] == 404
        assert answer["error"].startswith(f"rollout_id: no rollout '{bad}'")


def test_rows_written_while_the_viewer_runs_appear(tmp_path: Path, results_file: Path) -> None:
    live = tmp_path / "live.jsonl"
    shutil.copy(results_file, live)
    with gym_view(str(live)) as url:
        before = state_when(url, indexed)
        assert before["rollouts"] == TOTAL
        with live.open("ab") as sink:
            sink.write(rollout_line(built_result("late", group_id="late")))
        after = state_when(url, lambda state: state["rollouts"] == TOTAL + 1)
        assert after["version"] > before["version"]
        assert get(f"{url}/api/rollouts", group="late")["total"] == 1


def test_cli_errors_name_the_file_and_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["view", str(tmp_path / "missing.jsonl")]) == 2
    assert f"{tmp_path / 'missing.jsonl'}: no such file" in capsys.readouterr().err
    present = tmp_path / "r.jsonl"
    present.write_bytes(b"")
    assert main(["view", str(present), "--tokenizer", str(tmp_path / "nope.gguf")]) == 2
    assert "--tokenizer" in capsys.readouterr().err


def test_a_gguf_tokenizer_gives_each_token_its_text() -> None:
    from llama_cpp import Llama

    from policy_clients.engines.embedded import default_gguf

    text = "Hello world, 2+2=4"
    vocab = Llama(str(default_gguf()), vocab_only=True, verbose=False)
    with contextlib.closing(vocab):
        ids = vocab.tokenize(text.encode(), add_bos=False)
    pieces = load_decoder(default_gguf()).pieces(ids)
    assert len(pieces) == len(ids) > 1
    assert "".join(pieces) == text
