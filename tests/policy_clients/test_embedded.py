"""The embedded CPU policy (SmolLM2 through llama.cpp), through the policy server and the agent."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import Any

import jinja2
import orjson
import pytest

from gym_core.http_client import HttpClient
from gym_core.rollout_client import AsyncRolloutClient
from policy_clients.engines.embedded import default_gguf
from tests.conftest import gym_stack, streamed_chunks
from tests.policy_clients.test_gateway import policy_server

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "What is 2+2? Answer in one short sentence."}]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with policy_server([]) as url:
        yield url


@pytest.fixture(scope="module")
def vocab() -> Any:
    from llama_cpp import Llama

    return Llama(model_path=str(default_gguf()), vocab_only=True, verbose=False)


async def chat(url: str, **body: Any) -> dict[str, Any]:
    async with HttpClient(timeout_s=300) as http:
        return await http.post(f"{url}/v1/chat/completions", body)  # type: ignore[no-any-return]


async def test_answers_carry_the_exact_ids_and_their_logprobs(url: str, vocab: Any) -> None:
    answer = await chat(url, messages=QUESTION, temperature=0, max_tokens=40)
    choice = answer["choices"][0]
    ids = choice["token_ids"]
    assert answer["token_ids_source"] == "engine"
    assert choice["finish_reason"] == "stop"
    assert vocab.detokenize(ids[:-1]).decode() == choice["message"]["content"]
    template = jinja2.Environment().from_string(vocab.metadata["tokenizer.chat_template"])
    prompt = template.render(messages=QUESTION, add_generation_prompt=True)
    assert answer["prompt_token_ids"] == vocab.tokenize(prompt.encode(), special=True)
    logprobs = [entry["logprob"] for entry in choice["logprobs"]["content"]]
    assert len(logprobs) == len(ids)
    assert all(math.isfinite(value) and value <= 0 for value in logprobs)


async def test_sampling_is_reproducible_with_a_seed(url: str) -> None:
    greedy = [await chat(url, messages=QUESTION, temperature=0, max_tokens=16) for _ in range(2)]
    seeded = [
        await chat(url, messages=QUESTION, temperature=1.0, seed=7, max_tokens=16) for _ in range(2)
    ]
    assert greedy[0]["choices"][0]["token_ids"] == greedy[1]["choices"][0]["token_ids"]
    assert seeded[0]["choices"][0]["token_ids"] == seeded[1]["choices"][0]["token_ids"]
    assert greedy[0]["choices"][0]["finish_reason"] in ("stop", "length")


async def test_streaming_gives_the_same_answer(url: str) -> None:
    whole = await chat(url, messages=QUESTION, temperature=0, max_tokens=24)
    chunks = await streamed_chunks(url, {"messages": QUESTION, "temperature": 0, "max_tokens": 24})
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    ids = [i for c in chunks for i in c["choices"][0].get("token_ids") or []]
    assert text == whole["choices"][0]["message"]["content"]
    assert ids == whole["choices"][0]["token_ids"]
    assert chunks[0]["prompt_token_ids"] == whole["prompt_token_ids"]


async def test_required_tool_choice_makes_a_well_formed_call(url: str) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two integers.",
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                    "required": ["a", "b"],
                },
            },
        }
    ]
    answer = await chat(
        url,
        messages=[{"role": "user", "content": "Add 3 and 4."}],
        tools=tools,
        tool_choice="required",
        temperature=0,
        max_tokens=64,
    )
    choice = answer["choices"][0]
    [call] = choice["message"]["tool_calls"]
    assert choice["finish_reason"] == "tool_calls"
    assert call["function"]["name"] == "add"
    assert set(orjson.loads(call["function"]["arguments"])) == {"a", "b"}


TOOLS_TASK: dict[str, Any] = {
    "id": "tools",
    "env": "echo",
    "prompt": "Use the tools to add 2 and 3.",
    "sampling": {"tool_choice": "required", "temperature": 0.7, "max_tokens": 48, "seed": 3},
    # A seed whose three forced calls each fit in 48 tokens (the agent derives the sample's
    # own seed from it).
}


def test_a_multi_turn_tool_episode_is_one_token_sequence() -> None:
    with gym_stack(["echo"], [], envs={"echo": {"agent": {"max_turns": 3}}}) as running:

        async def run() -> Any:
            async with AsyncRolloutClient(running.endpoint) as client:
                return await client.rollout(TOOLS_TASK)

        result = asyncio.run(run())
    assert result.status == "truncated"  # every turn is a forced call, so max_turns ends it
    assert [m.role for m in result.messages] == ["user"] + ["assistant", "tool"] * 3
    assert result.prefix_consistent is True
    assert all(turn.prompt_mode == "tokens" for turn in result.turns)
    assert all(turn.prompt_token_ids is None for turn in result.turns)  # they point into the view
    view = result.token_view
    generated = [turn.completion_token_ids for turn in result.turns]
    assert sum(view.loss_mask) == sum(len(ids) for ids in generated)
    for index, turn in enumerate(result.turns):
        end = turn.prompt_length + len(turn.completion_token_ids)
        assert view.input_ids[turn.prompt_length : end] == turn.completion_token_ids
        assert result.prompt_token_ids(index) == view.input_ids[: turn.prompt_length]
    masked = [lp for lp, mask in zip(view.logprobs, view.loss_mask, strict=True) if mask]
    assert masked == [lp for turn in result.turns for lp in turn.completion_logprobs]


def test_outgrowing_a_small_context_window_truncates() -> None:
    """The embedded model's own refusal of a prompt that does not fit ends the episode as
    truncated with what it generated, as other engines' refusals do."""
    forced = {**TOOLS_TASK, "sampling": {**TOOLS_TASK["sampling"], "max_tokens": 40}}
    long = {"id": "long", "env": "echo", "prompt": "hello " * 2000}
    with gym_stack(
        ["echo"],
        [],
        policy={"embedded_context": 470},
        envs={"echo": {"agent": {"max_turns": 8}}},
    ) as running:

        async def run() -> Any:
            async with AsyncRolloutClient(running.endpoint) as client:
                return await client.rollouts([forced, long])

        grown, too_long = asyncio.run(run())
    assert grown.status == "truncated"
    # the window fills between turns (the next prompt does not fit) or within one (length)
    assert grown.metrics["truncated_by"] in ("context", "length")
    assert 1 <= len(grown.turns) < 8
    assert grown.reward is not None
    assert too_long.status == "truncated"
    assert too_long.metrics["truncated_by"] == "context"
    assert too_long.turns == []
