"""Results files for the viewer's tests: one written by a real `gym rollout` (the scripted
engine over HTTP, math and tool_calls), then rows built from the protocol models for what a
scripted run does not produce: groups with and without signal, a broken prefix, a failure."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from gym_core.cli import main
from gym_core.protocol import Failure, Message, RolloutResult, Timing, ToolCall, Turn
from gym_core.token_view import build_token_view
from tests.conftest import scripted_engine

TASKS = [
    {"id": "four", "env": "math", "prompt": "What is 2+2?", "answer": "4"},
    {"id": "six", "env": "math", "prompt": "What is 3+3?", "answer": "6"},
]
RULES = [
    {"role": "user", "match": "What is 2\\+2", "reply": "It is \\boxed{4}."},
    {"role": "user", "match": "What is 3\\+3", "reply": "It is \\boxed{7}."},
]
SCRIPTED_ROLLOUTS = 4
"""Two tasks, two samples each: every group gets one reward (no signal)."""


def rollout_line(result: RolloutResult) -> bytes:
    return orjson.dumps(result.model_dump(mode="json")) + b"\n"


def built_result(
    task_id: str,
    *,
    env: str = "calendar",
    group_id: str = "built",
    sample_index: int = 0,
    reward: float | None = 1.0,
    status: str = "completed",
    version: int = 3,
) -> RolloutResult:
    """A two-turn episode with a tool call, its token view built as the agent builds it."""
    turns = [
        Turn(
            prompt_token_ids=[1, 2, 3],
            completion_token_ids=[10, 11],
            completion_logprobs=[-0.05, -2.5],
            prompt_mode="tokens",
            policy_version=version,
            token_ids_source="engine",
        ),
        Turn(
            prompt_token_ids=[1, 2, 3, 10, 11, 20, 21],
            completion_token_ids=[12],
            completion_logprobs=[-0.5],
            prompt_mode="tokens",
            policy_version=version,
            token_ids_source="engine",
        ),
    ]
    check = build_token_view(turns)
    call = ToolCall(id="call-1", function={"name": "add_event", "arguments": '{"day": "mon"}'})
    return RolloutResult(
        task_id=task_id,
        env=env,
        group_id=group_id,
        sample_index=sample_index,
        messages=[
            Message(role="user", content="Book a meeting on Monday."),
            Message(role="assistant", content=None, tool_calls=[call]),
            Message(role="tool", content="booked: monday", tool_call_id="call-1"),
            Message(role="assistant", content="Done: Monday at 10."),
        ],
        turns=check.turns,
        token_view=check.view,
        prefix_consistent=check.consistent,
        reward=reward,
        reward_components={"format": 1.0, "slot": reward or 0.0},
        metrics={"events": 1},
        status=status,  # type: ignore[arg-type]
        policy_version_min=version,
        policy_version_max=version,
        timing=Timing(total_s=1.5, policy_s=1.0, tools_s=0.2, verify_s=0.1),
    )


def broken_prefix_result() -> RolloutResult:
    """The engine re-rendered history: turn 1's prompt does not extend turn 0's tokens."""
    turns = [
        Turn(prompt_token_ids=[1, 2], completion_token_ids=[30, 31], completion_logprobs=[-1, -1]),
        Turn(
            prompt_token_ids=[1, 2, 30, 99, 40], completion_token_ids=[32], completion_logprobs=[-1]
        ),
    ]
    check = build_token_view(turns)
    assert check.consistent is False
    result = built_result("broken", group_id="broken")
    return result.model_copy(
        update={
            "turns": check.turns,
            "token_view": None,
            "prefix_consistent": False,
            "prefix_break_turn": check.break_turn,
        }
    )


def failed_result() -> RolloutResult:
    return built_result("timeout", env="math", group_id="failing", reward=None).model_copy(
        update={
            "status": "failed",
            "failure": Failure(kind="policy_timeout", message="the policy did not answer in 60 s"),
        }
    )


def signal_group() -> list[RolloutResult]:
    return [
        built_result("split", group_id="split", sample_index=index, reward=float(index % 2))
        for index in range(4)
    ]


def built_results() -> list[RolloutResult]:
    return [*signal_group(), broken_prefix_result(), failed_result()]


@pytest.fixture(scope="session")
def results_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real `gym rollout` of the math tasks (2 samples), then the built rows appended."""
    folder = tmp_path_factory.mktemp("viewer")
    tasks = folder / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(task) + "\n" for task in TASKS))
    out = folder / "results.jsonl"
    with scripted_engine(RULES) as engine:
        argv = ["rollout", str(tasks), "--out", str(out), "--samples", "2"]
        assert main([*argv, "--policy-url", engine]) == 0
    with out.open("ab") as sink:
        sink.write(b"".join(rollout_line(result) for result in built_results()))
    return out


def get(url: str, **params: Any) -> Any:
    """The decoded JSON of a GET; an HTTP error's status and body as a dict with `status`."""
    query = "&".join(f"{key}={value}" for key, value in params.items())
    try:
        with urllib.request.urlopen(f"{url}?{query}" if query else url, timeout=60) as answer:
            return orjson.loads(answer.read())
    except urllib.error.HTTPError as error:
        return {"status": error.code, **orjson.loads(error.read())}


def state_when(url: str, ready: Callable[[dict[str, Any]], bool], timeout_s: float = 60) -> Any:
    """`/api/state` once `ready` holds of it (the indexer reads the files in the background)."""
    deadline = time.monotonic() + timeout_s
    while not ready(state := get(f"{url}/api/state")):
        assert time.monotonic() < deadline, f"the viewer's state stayed {state}"
        time.sleep(0.05)
    return state


def indexed(state: dict[str, Any]) -> bool:
    return bool(state["indexed_bytes"] == state["total_bytes"])
