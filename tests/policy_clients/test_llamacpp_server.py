"""The policy server in front of llama.cpp's real server, running SmolLM2 on CPU."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from gym_core.rollout_client import AsyncRolloutClient
from policy_clients.engines.embedded import default_gguf
from tests.conftest import gym_stack, llama_server, post_json, streamed_chunks
from tests.policy_clients.test_gateway import policy_server

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "What is 2+2? Answer in one short sentence."}]


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    with llama_server(str(default_gguf())) as url:
        yield url


@pytest.fixture(scope="module")
def url(engine: str) -> Iterator[str]:
    with policy_server([engine]) as url:
        yield url


async def test_ids_are_the_servers_own(engine: str, url: str) -> None:
    answer = await post_json(
        url, "/v1/chat/completions", {"messages": QUESTION, "temperature": 0, "max_tokens": 40}
    )
    choice = answer["choices"][0]
    assert answer["token_ids_source"] == "engine"
    assert len(answer["prompt_token_ids"]) == answer["usage"]["prompt_tokens"]
    detokenized = await post_json(engine, "/detokenize", {"tokens": choice["token_ids"]})
    assert detokenized["content"].removesuffix("<|im_end|>") == choice["message"]["content"]
    assert len(choice["logprobs"]["content"]) == len(choice["token_ids"])


async def test_streaming_passes_through(url: str) -> None:
    whole = await post_json(
        url, "/v1/chat/completions", {"messages": QUESTION, "temperature": 0, "max_tokens": 24}
    )
    chunks = await streamed_chunks(url, {"messages": QUESTION, "temperature": 0, "max_tokens": 24})
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == whole["choices"][0]["message"]["content"]
    assert all(chunk["policy_version"] == 0 for chunk in chunks)


def test_a_multi_turn_episode_through_the_agent(engine: str) -> None:
    task = {
        "id": "talk",
        "env": "dialog",
        "prompt": "Say hello.",
        "expected": "",
        "user_turns": ["Now say goodbye."],
        "sampling": {"temperature": 0, "max_tokens": 200},
    }
    with gym_stack(["dialog"], [engine]) as running:

        async def run() -> Any:
            async with AsyncRolloutClient(running.endpoint) as client:
                return await client.rollout(task)

        result = asyncio.run(run())
    assert result.status == "completed"
    assert [m.role for m in result.messages] == ["user", "assistant", "user", "assistant"]
    assert all(turn.token_ids_source == "engine" for turn in result.turns)
    assert all(turn.prompt_mode == "tokens" for turn in result.turns)
    assert result.prefix_consistent is True
    assert sum(result.token_view.loss_mask) == sum(
        len(t.completion_token_ids) for t in result.turns
    )
