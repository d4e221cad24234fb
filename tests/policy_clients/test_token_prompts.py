"""Prompts built from token ids: with a chat template that rewrites history (it drops the
reasoning of past assistant turns, as Qwen3's does), token mode keeps the episode one token
sequence where messages mode breaks it. A scripted engine in vLLM's shape stands in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from gym_core.chat_api import ChatCompletion
from gym_core.errors import ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.rollout_client import AsyncRolloutClient
from gym_core.token_view import build_token_view
from policy_clients.scripted import IM_END, detokenize, tokenize
from tests.conftest import gym_stack, metric, scripted_engine
from tests.policy_clients.test_gateway import policy_server

RULES: list[dict[str, Any]] = [
    {
        "role": "user",
        "match": "^echo please",
        "reply": "<think>I should use the tool.</think>",
        "tool_calls": [{"name": "echo", "arguments": {"text": "hi"}}],
    },
    {"role": "tool", "match": "^hi$", "reply": "<think>It said hi.</think>done: hi"},
    {"reply": "<think>Easy.</think>the answer"},
]
FIRST = [{"role": "user", "content": "echo please"}]
TOOLS = [{"type": "function", "function": {"name": "echo", "parameters": {"type": "object"}}}]


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    with scripted_engine(RULES, drop_past_thinking=True) as url:
        yield url


@pytest.fixture(scope="module")
def gateway(engine: str) -> Iterator[str]:
    with policy_server([engine]) as url:
        yield url


async def chat(url: str, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    async with HttpClient() as http:
        body = {"messages": messages, "tools": TOOLS, **extra}
        return await http.post(f"{url}/v1/chat/completions", body)  # type: ignore[no-any-return]


async def two_turns(url: str, *, tokens: bool) -> list[dict[str, Any]]:
    """A tool call and the answer after its output, continuing ids when `tokens`."""
    first = await chat(url, FIRST, **({"rl_gym_prefix": {}} if tokens else {}))
    call = first["choices"][0]["message"]
    conversation = [*FIRST, call, {"role": "tool", "tool_call_id": "c", "content": "hi"}]
    prefix = {
        "token_ids": first["prompt_token_ids"] + first["choices"][0]["token_ids"],
        "messages": 2,
    }
    second = await chat(url, conversation, **({"rl_gym_prefix": prefix} if tokens else {}))
    return [first, second]


async def test_token_mode_keeps_what_the_model_saw(gateway: str) -> None:
    first, second = await two_turns(gateway, tokens=True)
    assert [answer["prompt_mode"] for answer in (first, second)] == ["tokens", "tokens"]
    completion = first["choices"][0]["token_ids"]
    assert completion[-1] == IM_END
    # the newline after <|im_end|> is the template's, then the tool turn and the generation prompt
    added = tokenize("\n<|im_start|>tool\nhi<|im_end|>\n<|im_start|>assistant\n")
    assert second["prompt_token_ids"] == first["prompt_token_ids"] + completion + added
    assert second["choices"][0]["message"]["content"] == "<think>It said hi.</think>done: hi"
    turns = [ChatCompletion.model_validate(answer).turn()[1] for answer in (first, second)]
    check = build_token_view(turns)
    assert check.consistent is True
    assert [turn.prompt_length for turn in check.turns] == [
        len(answer["prompt_token_ids"]) for answer in (first, second)
    ]
    assert all(turn.prompt_token_ids is None for turn in check.turns)


async def test_messages_mode_breaks_the_view_on_a_rewriting_template(gateway: str) -> None:
    first, second = await two_turns(gateway, tokens=False)
    assert [answer["prompt_mode"] for answer in (first, second)] == ["messages", "messages"]
    turns = [ChatCompletion.model_validate(answer).turn()[1] for answer in (first, second)]
    check = build_token_view(turns)
    assert (check.consistent, check.break_turn, check.view) == (False, 1, None)
    assert check.turns[1].prompt_token_ids == second["prompt_token_ids"]  # kept whole
    assert "I should use the tool" not in detokenize(second["prompt_token_ids"])


async def test_the_first_turn_renders_like_the_chat_api(gateway: str) -> None:
    by_tokens = await chat(gateway, FIRST, rl_gym_prefix={})
    by_messages = await chat(gateway, FIRST)
    assert by_tokens["prompt_token_ids"] == by_messages["prompt_token_ids"]
    assert by_tokens["choices"][0]["token_ids"] == by_messages["choices"][0]["token_ids"]
    [call] = by_tokens["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "echo"
    assert by_tokens["choices"][0]["finish_reason"] == "tool_calls"


async def test_a_group_prompt_is_rendered_by_the_engine_once(engine: str, gateway: str) -> None:
    await chat(gateway, FIRST, rl_gym_prefix={})  # the template's frame is measured by now
    group = [{"role": "user", "content": "echo please, for a group of 8"}]
    before = metric(engine, "requests_total", 'route="/tokenize"')
    answers = await asyncio.gather(*(chat(gateway, group, rl_gym_prefix={}) for _ in range(8)))
    assert metric(engine, "requests_total", 'route="/tokenize"') - before == 1
    by_messages = await chat(gateway, group)
    assert {tuple(answer["prompt_token_ids"]) for answer in answers} == {
        tuple(by_messages["prompt_token_ids"])
    }


@pytest.mark.parametrize(
    ("prefix", "complaint"),
    [
        ({"token_ids": [1, 2], "messages": 0}, "both empty"),
        ({"token_ids": [1, 2], "messages": 5}, "rl_gym_prefix.messages: 5 is more than"),
        ({"token_ids": [1, 2], "messages": 1}, "must end with an assistant message"),
        ({"token_ids": [-1], "messages": 1}, "greater than or equal to 0"),
    ],
)
async def test_a_bad_prefix_is_a_422_naming_the_field(
    gateway: str, prefix: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ServiceRejected) as raised:
        await chat(gateway, FIRST, rl_gym_prefix=prefix)
    assert raised.value.status == 422
    assert complaint in str(raised.value.detail)
    assert "rl_gym_prefix" in str(raised.value.detail)


def test_an_engine_without_token_prompts_falls_back_to_messages() -> None:
    with scripted_engine(RULES, shape="openai") as engine, policy_server([engine]) as url:
        answer = asyncio.run(chat(url, FIRST, rl_gym_prefix={}))
    assert answer["prompt_mode"] == "messages"
    assert answer["token_ids_source"] == "none"


def test_an_episode_is_one_sequence_and_its_turns_point_into_it(engine: str) -> None:
    task = {"id": "t", "env": "echo", "prompt": "echo please", "expected": "done: hi"}
    with gym_stack(["echo"], [engine]) as running:

        async def run() -> Any:
            async with AsyncRolloutClient(running.endpoint) as client:
                return await client.rollout(task)

        result = asyncio.run(run())
    assert result.status == "completed"
    assert result.reward == 1.0
    assert [turn.prompt_mode for turn in result.turns] == ["tokens", "tokens"]
    assert result.prefix_consistent is True
    view = result.token_view
    # no turn repeats the prompt: each says where its prompt ends in the one view
    assert all(turn.prompt_token_ids is None for turn in result.turns)
    for index, turn in enumerate(result.turns):
        prompt = result.prompt_token_ids(index)
        assert prompt == view.input_ids[: turn.prompt_length]
        end = turn.prompt_length + len(turn.completion_token_ids)
        assert view.input_ids[turn.prompt_length : end] == turn.completion_token_ids
        assert view.loss_mask[turn.prompt_length : end] == [1] * len(turn.completion_token_ids)
    # the reasoning the template drops from history is still what the model saw
    assert "<think>I should use the tool.</think>" in detokenize(view.input_ids)
