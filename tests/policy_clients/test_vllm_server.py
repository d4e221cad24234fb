"""The vLLM path against the real vLLM server (its CPU build, serving SmolLM2): exact ids and
logprobs through the policy server, and a multi-turn episode whose prompts the policy server
builds from ids (`/tokenize` + `/v1/completions`), so its token view holds by construction."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from gym_core.rollout_client import AsyncRolloutClient
from tests.conftest import gym_stack, post_json
from tests.fixtures.vllm_engine import SERVED_MODEL, vllm_python, vllm_server
from tests.policy_clients.test_gateway import policy_server
from trainers.smollm2 import smollm2_dir

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "What is 2+2? Answer in one short sentence."}]
GREEDY = {"temperature": 0, "max_tokens": 24}


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    python = vllm_python()
    with vllm_server(python, smollm2_dir()) as url:  # converted once, cached
        yield url


@pytest.fixture(scope="module")
def gateway(engine: str) -> Iterator[str]:
    with policy_server([engine]) as url:
        yield url


async def test_ids_and_logprobs_are_vllms_own(engine: str, gateway: str) -> None:
    answer = await post_json(gateway, "/v1/chat/completions", {"messages": QUESTION, **GREEDY})
    choice = answer["choices"][0]
    assert answer["token_ids_source"] == "engine"
    assert answer["prompt_mode"] == "messages"
    prompt = (await post_json(engine, "/tokenize", {"messages": QUESTION}))["tokens"]
    assert answer["prompt_token_ids"] == prompt
    # the same prompt straight to vLLM, as ids: the same tokens, the same logprobs
    direct = await post_json(
        engine,
        "/v1/completions",
        {
            "model": SERVED_MODEL,
            "prompt": prompt,
            "logprobs": 0,
            "return_token_ids": True,
            **GREEDY,
        },
    )
    assert choice["token_ids"] == direct["choices"][0]["token_ids"]
    logprobs = [entry["logprob"] for entry in choice["logprobs"]["content"]]
    assert logprobs == pytest.approx(direct["choices"][0]["logprobs"]["token_logprobs"], abs=1e-4)
    # and they are the logprobs of those tokens after that prompt, as vLLM scores the sequence
    scored = await post_json(
        engine,
        "/v1/completions",
        {
            "model": SERVED_MODEL,
            "prompt": prompt + choice["token_ids"],
            "max_tokens": 1,
            "prompt_logprobs": 0,
        },
    )
    rescored = [
        entry[str(token)]["logprob"]
        for entry, token in zip(
            scored["choices"][0]["prompt_logprobs"][len(prompt) :], choice["token_ids"], strict=True
        )
    ]
    assert logprobs == pytest.approx(rescored, abs=1e-3)


async def test_the_token_path_starts_where_the_chat_path_does(gateway: str) -> None:
    by_messages = await post_json(gateway, "/v1/chat/completions", {"messages": QUESTION, **GREEDY})
    by_tokens = await post_json(
        gateway, "/v1/chat/completions", {"messages": QUESTION, "rl_gym_prefix": {}, **GREEDY}
    )
    assert by_tokens["prompt_mode"] == "tokens"
    assert by_tokens["prompt_token_ids"] == by_messages["prompt_token_ids"]
    assert by_tokens["choices"][0]["token_ids"] == by_messages["choices"][0]["token_ids"]
    assert (
        by_tokens["choices"][0]["message"]["content"]
        == by_messages["choices"][0]["message"]["content"]
    )


def test_a_multi_turn_tool_episode_is_one_sequence_by_construction(engine: str) -> None:
    task = {
        "id": "talk",
        "env": "dialog",
        "prompt": "Say hello.",
        "expected": "",
        "user_turns": ["Now say goodbye.", "Thanks."],
        "sampling": {"temperature": 0, "max_tokens": 200},
    }
    with gym_stack(["dialog"], [engine], envs={"dialog": {"agent": {"max_turns": 4}}}) as running:

        async def run() -> Any:
            async with AsyncRolloutClient(running.endpoint) as client:
                return await client.rollout(task)

        result = asyncio.run(run())
    assert result.status == "completed", result.failure
    turns = result.turns
    assert len(turns) >= 3  # the echo tools are offered (described in the system message)
    assert all(turn.prompt_mode == "tokens" for turn in turns)
    assert all(turn.token_ids_source == "engine" for turn in turns)
    assert result.prefix_consistent is True
    view = result.token_view
    assert all(turn.prompt_token_ids is None for turn in turns)  # they point into the view
    for before, after in itertools.pairwise(turns):
        end = before.prompt_length + len(before.completion_token_ids)
        assert view.input_ids[before.prompt_length : end] == before.completion_token_ids
        added = asyncio.run(
            post_json(engine, "/detokenize", {"tokens": view.input_ids[end : after.prompt_length]})
        )["prompt"]
        # what the template adds after a turn: its end, the new messages, the next turn's start
        assert added.startswith("\n<|im_start|>")
        assert added.endswith("<|im_start|>assistant\n")
    masked = [lp for lp, mask in zip(view.logprobs, view.loss_mask, strict=True) if mask]
    assert masked == [lp for turn in turns for lp in turn.completion_logprobs]
    assert sum(view.loss_mask) == sum(len(turn.completion_token_ids) for turn in turns)
