"""The token rows of real results: a scripted engine behind a real stack with tools and a
simulated user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from gym_core.protocol import RolloutResult
from gym_core.rollout_client import RolloutClient
from tests.conftest import gym_stack, scripted_engine
from trainers.samples import is_trainable, training_tokens

RULES: list[dict[str, Any]] = [
    {
        "role": "user",
        "match": "^echo",
        "tool_calls": [{"name": "echo", "arguments": {"text": "hi"}}],
    },
    {"role": "tool", "match": "^hi$", "reply": "done: hi"},
    {"match": "^policy crash", "status": 500},
    {"match": "^verify crash", "reply": "VERIFY_CRASH"},
    {"reply": "the answer is 42"},
]


@pytest.fixture(scope="module")
def client() -> Iterator[RolloutClient]:
    with (
        scripted_engine(RULES) as engine_url,
        gym_stack(["echo", "dialog"], [engine_url]) as running,
        RolloutClient(running.endpoint) as client,
    ):
        yield client


def run(client: RolloutClient, prompt: str, env: str = "echo", **fields: Any) -> RolloutResult:
    task = {"id": prompt.split()[0], "env": env, "prompt": prompt, **fields}
    [result] = client.rollouts([task])
    return result


def test_a_tool_call_splits_at_the_first_prompt_and_masks_the_tool_output(
    client: RolloutClient,
) -> None:
    result = run(client, "echo please", expected="done: hi")
    tokens = training_tokens(result)
    assert tokens is not None
    assert is_trainable(result)
    first, second = result.turns
    first_prompt, second_prompt = result.prompt_token_ids(0), result.prompt_token_ids(1)
    assert tokens.prompt_ids == first_prompt
    # completion: turn 1's tokens, then the tool output (and next prompt header), then turn 2's
    tool_part = second_prompt[len(first_prompt) + len(first.completion_token_ids) :]
    assert (
        tokens.completion_ids
        == first.completion_token_ids + tool_part + second.completion_token_ids
    )
    assert tokens.completion_mask == (
        [1] * len(first.completion_token_ids)
        + [0] * len(tool_part)
        + [1] * len(second.completion_token_ids)
    )
    assert b"hi" in bytes(i for i in tool_part if i < 256)
    assert tokens.completion_logprobs == [
        lp if mask else 0.0
        for lp, mask in zip(
            first.completion_logprobs + [0.0] * len(tool_part) + second.completion_logprobs,
            tokens.completion_mask,
            strict=True,
        )
    ]


def test_user_turns_of_a_dialogue_are_masked(client: RolloutClient) -> None:
    result = run(client, "first question", env="dialog", user_turns=["second question"])
    tokens = training_tokens(result)
    assert tokens is not None
    assert len(result.turns) == 2
    generated = sum(len(turn.completion_token_ids) for turn in result.turns)
    assert sum(tokens.completion_mask) == generated
    assert 0 in tokens.completion_mask
    assert (
        len(tokens.completion_ids) == len(tokens.completion_mask) == len(tokens.completion_logprobs)
    )


def test_a_sample_that_failed_before_its_first_turn_has_no_tokens(client: RolloutClient) -> None:
    [result, _] = client.rollouts(
        [
            {"id": "crash", "env": "echo", "prompt": "policy crash"},
            {"id": "ok", "env": "echo", "prompt": "hi"},
        ]
    )
    assert result.status == "failed"
    assert training_tokens(result) is None
    assert not is_trainable(result)


def test_a_sample_that_failed_after_its_turns_has_tokens_but_is_not_trainable(
    client: RolloutClient,
) -> None:
    result = run(client, "verify crash")
    assert result.failure is not None
    assert result.failure.kind == "verify_error"
    assert training_tokens(result) is not None
    assert not is_trainable(result)


def test_a_result_whose_prefix_broke_has_no_tokens(client: RolloutClient) -> None:
    result = run(client, "echo please", expected="done: hi")
    broken = result.model_copy(
        update={"token_view": None, "prefix_consistent": False, "prefix_break_turn": 1}
    )
    assert training_tokens(broken) is None
    assert not is_trainable(broken)
