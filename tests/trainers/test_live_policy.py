"""The live policy: SmolLM2 as torch weights, served over real HTTP, checked against the model's
own forward pass."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from gym_core.errors import ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.rollout_client import AsyncRolloutClient
from policy_clients.engines.openai_http import detect_kind
from tests.conftest import gym_stack, importable_here
from tests.fixtures.serving import gym_serving
from trainers.live_policy import LivePolicy
from trainers.smollm2 import load_smollm2

pytestmark = pytest.mark.slow

QUESTION = [{"role": "user", "content": "What is 3 + 5? Put your final answer in \\boxed{}."}]
TOLERANCE = 1e-4
"""Batched, padded and single forwards of float32 weights agree to about 2e-5 here."""


@pytest.fixture(scope="module")
def loaded() -> tuple[Any, Any]:
    return load_smollm2()


@pytest.fixture(scope="module")
def policy(loaded: tuple[Any, Any]) -> Iterator[LivePolicy]:
    with LivePolicy(*loaded) as policy:
        yield policy


async def post(url: str, body: dict[str, Any]) -> Any:
    async with HttpClient(timeout_s=300, max_retries=0) as http:
        return await http.post(url, body)


def rescored(
    model: Any,
    prompt: list[int],
    completion: list[int],
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
) -> list[float]:
    """The logprob of each completion token under the sampling distribution, computed from
    one plain forward pass over the whole sequence."""
    import torch

    with torch.inference_mode():
        logits = model(torch.tensor([prompt + completion])).logits[0]
    scores = logits[len(prompt) - 1 : -1] / temperature
    if top_k:
        kth = scores.topk(top_k, dim=-1).values[:, -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if top_p < 1:
        ordered, order = scores.sort(dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        above = probs.cumsum(dim=-1) - probs  # mass of the tokens ranked above each one
        ordered = ordered.masked_fill(above >= top_p, float("-inf"))
        scores = scores.scatter(-1, order, ordered)
    logprobs = torch.log_softmax(scores, dim=-1)
    return logprobs.gather(-1, torch.tensor(completion)[:, None])[:, 0].tolist()


async def forwards_reach(policy: LivePolicy, steps: int) -> None:
    """Return once the generator has run `steps` forwards in all (polled: it has no event)."""
    while True:
        if policy.engine.steps >= steps:
            return
        await asyncio.sleep(0.01)


def logprobs_of(choice: dict[str, Any]) -> list[float]:
    return [entry["logprob"] for entry in choice["logprobs"]["content"]]


def template_ids(tokenizer: Any, messages: list[dict[str, Any]]) -> list[int]:
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return list(tokenizer(text, add_special_tokens=False).input_ids)


@pytest.mark.parametrize("temperature", [1.0, 0.6])
async def test_ids_are_exact_and_logprobs_those_of_the_sampled_distribution(
    policy: LivePolicy, loaded: tuple[Any, Any], temperature: float
) -> None:
    model, tokenizer = loaded
    answer = await post(
        f"{policy.url}/v1/chat/completions",
        {"messages": QUESTION, "temperature": temperature, "max_tokens": 24, "seed": 3},
    )
    choice = answer["choices"][0]
    ids = choice["token_ids"]
    assert answer["prompt_token_ids"] == template_ids(tokenizer, QUESTION)
    assert answer["token_ids_source"] == "engine"
    assert len(ids) == len(logprobs_of(choice)) == answer["usage"]["completion_tokens"]
    expected = rescored(model, answer["prompt_token_ids"], ids, temperature)
    assert logprobs_of(choice) == pytest.approx(expected, abs=TOLERANCE)
    visible = ids[:-1] if choice["finish_reason"] == "stop" else ids
    assert choice["message"]["content"] == tokenizer.decode(visible)
    assert model.training  # the trainer's module keeps its mode


@pytest.mark.parametrize("filters", [{"top_k": 5}, {"top_p": 0.6}, {"top_k": 20, "top_p": 0.8}])
async def test_logprobs_are_those_after_top_k_and_top_p(
    policy: LivePolicy, loaded: tuple[Any, Any], filters: dict[str, Any]
) -> None:
    body = {"prompt": "Once upon a time", "temperature": 0.8, "max_tokens": 16, "seed": 5}
    answer = await post(f"{policy.url}/v1/completions", {**body, **filters})
    choice = answer["choices"][0]
    expected = rescored(loaded[0], answer["prompt_token_ids"], choice["token_ids"], 0.8, **filters)
    assert choice["logprobs"]["token_logprobs"] == pytest.approx(expected, abs=TOLERANCE)


async def test_greedy_takes_the_argmax_with_certainty(
    policy: LivePolicy, loaded: tuple[Any, Any]
) -> None:
    answer = await post(
        f"{policy.url}/v1/completions",
        {"prompt": [33, 28, 216, 34, 28], "temperature": 0, "max_tokens": 8},
    )
    choice = answer["choices"][0]
    assert answer["prompt_token_ids"] == [33, 28, 216, 34, 28]
    raw = rescored(loaded[0], answer["prompt_token_ids"], choice["token_ids"])
    best = rescored(loaded[0], answer["prompt_token_ids"], choice["token_ids"], temperature=1e-6)
    assert best == pytest.approx([0.0] * len(raw), abs=TOLERANCE)  # each token was the argmax
    assert choice["logprobs"]["token_logprobs"] == [0.0] * len(raw)


async def test_stop_strings_end_the_completion_and_are_cut_from_the_text(
    policy: LivePolicy, loaded: tuple[Any, Any]
) -> None:
    body = {"prompt": "1, 2, 3, 4,", "temperature": 0, "max_tokens": 32, "stop": [" 7"]}
    choice = (await post(f"{policy.url}/v1/completions", body))["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["text"] == " 5, 6,"
    # the ids keep every sampled token, the stop string's included
    assert loaded[1].decode(choice["token_ids"]) == " 5, 6, 7"


async def test_concurrent_requests_are_generated_in_one_batch(
    loaded: tuple[Any, Any],
) -> None:
    model, tokenizer = loaded
    questions = [
        [{"role": "user", "content": f"What is {n} + {n * 3 % 10}?" + " Think." * n}]
        for n in range(6)
    ]
    with LivePolicy(model, tokenizer, batch_window_s=0.5) as policy:
        bodies = [
            {"messages": q, "temperature": 1.0, "max_tokens": 12 + 4 * n, "seed": n}
            for n, q in enumerate(questions)
        ]
        answers = await asyncio.gather(
            *(post(f"{policy.url}/v1/chat/completions", body) for body in bodies)
        )
        assert policy.engine.batches == 1
        alone = await post(f"{policy.url}/v1/chat/completions", bodies[3])
    for question, answer in zip(questions, answers, strict=True):
        choice = answer["choices"][0]
        assert answer["prompt_token_ids"] == template_ids(tokenizer, question)
        expected = rescored(model, answer["prompt_token_ids"], choice["token_ids"])
        assert logprobs_of(choice) == pytest.approx(expected, abs=TOLERANCE)
    # a seeded request samples the same tokens whatever it was batched with
    assert alone["choices"][0]["token_ids"] == answers[3]["choices"][0]["token_ids"]


async def test_a_request_joins_a_running_batch_and_leaves_it_when_done(
    policy: LivePolicy, loaded: tuple[Any, Any]
) -> None:
    counting = {"prompt": "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,", "temperature": 0, "max_tokens": 60}
    batches, steps = policy.engine.batches, policy.engine.steps
    long = asyncio.ensure_future(post(f"{policy.url}/v1/completions", counting))
    await forwards_reach(policy, steps + 5)
    short = await post(
        f"{policy.url}/v1/chat/completions",
        {"messages": QUESTION, "temperature": 1.0, "max_tokens": 6, "seed": 1},
    )
    assert not long.done()
    answer = await long
    assert policy.engine.batches == batches + 2
    assert len(answer["choices"][0]["token_ids"]) == 60
    argmax = rescored(
        loaded[0], answer["prompt_token_ids"], answer["choices"][0]["token_ids"], 1e-6
    )
    assert argmax == pytest.approx([0.0] * 60, abs=TOLERANCE)  # each token the argmax
    expected = rescored(loaded[0], short["prompt_token_ids"], short["choices"][0]["token_ids"])
    assert logprobs_of(short["choices"][0]) == pytest.approx(expected, abs=TOLERANCE)


async def test_weights_update_holds_generation_and_bumps_the_version(
    policy: LivePolicy, loaded: tuple[Any, Any]
) -> None:
    import torch

    model = loaded[0]
    before, started = policy.version, policy.engine.steps
    counting = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"
    long = asyncio.ensure_future(
        post(
            f"{policy.url}/v1/completions", {"prompt": counting, "temperature": 0, "max_tokens": 40}
        )
    )
    await forwards_reach(policy, started + 3)

    def update() -> None:
        with policy.weights_update():
            held = policy.engine.steps
            time.sleep(0.5)
            assert policy.engine.steps == held  # no forward while the weights are held
            with torch.no_grad():
                model.lm_head.weight.mul_(1.5)  # tied to the embeddings: both change

    await asyncio.to_thread(update)
    assert policy.version == before + 1
    try:
        answer = await long
        assert answer["policy_version"] == before  # the version of its first token
        after = await post(
            f"{policy.url}/v1/chat/completions",
            {"messages": QUESTION, "temperature": 1.0, "max_tokens": 8, "seed": 2},
        )
        assert after["policy_version"] == before + 1
        expected = rescored(model, after["prompt_token_ids"], after["choices"][0]["token_ids"])
        assert logprobs_of(after["choices"][0]) == pytest.approx(expected, abs=TOLERANCE)
    finally:
        with policy.weights_update(version=7), torch.no_grad():
            model.lm_head.weight.div_(1.5)
    assert policy.version == 7
    with pytest.raises(RuntimeError), policy.weights_update():
        raise RuntimeError("the optimizer failed")
    assert policy.version == 7  # a failed update is not a new version


async def test_tool_calls_are_parsed_from_the_models_text(policy: LivePolicy) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two numbers.",
                "parameters": {
                    "type": "object",
                    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                },
            },
        }
    ]
    messages: list[dict[str, Any]] = []
    for index, (a, b) in enumerate([(1, 1), (4, 2), (7, 3)]):  # a few examples to imitate
        call = {"name": "add", "arguments": orjson.dumps({"a": a, "b": b}).decode()}
        messages += [
            {"role": "user", "content": f"Add {a} and {b}."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": f"c{index}", "type": "function", "function": call}],
            },
            {"role": "tool", "tool_call_id": f"c{index}", "content": str(a + b)},
            {"role": "assistant", "content": str(a + b)},
        ]
    messages.append({"role": "user", "content": "Add 2 and 3."})
    body = {"messages": messages, "tools": tools, "temperature": 0, "max_tokens": 40}
    choice = (await post(f"{policy.url}/v1/chat/completions", body))["choices"][0]
    [call] = choice["message"]["tool_calls"]
    assert choice["finish_reason"] == "tool_calls"
    assert call["function"]["name"] == "add"
    assert orjson.loads(call["function"]["arguments"]) == {"a": 2, "b": 3}


async def test_tokenize_detokenize_and_models_speak_vllms_dialect(
    policy: LivePolicy, loaded: tuple[Any, Any]
) -> None:
    tokens = await post(f"{policy.url}/tokenize", {"messages": QUESTION})
    assert tokens["tokens"] == template_ids(loaded[1], QUESTION)
    assert tokens["count"] == len(tokens["tokens"])
    closed = await post(
        f"{policy.url}/tokenize", {"messages": QUESTION, "add_generation_prompt": False}
    )
    assert tokens["tokens"][: len(closed["tokens"])] == closed["tokens"]
    text = await post(f"{policy.url}/detokenize", {"tokens": tokens["tokens"]})
    assert text["prompt"] == loaded[1].apply_chat_template(
        QUESTION, add_generation_prompt=True, tokenize=False
    )
    async with HttpClient(timeout_s=30) as http:
        kind, model = await detect_kind(http, policy.url)
    assert kind == "vllm"  # the policy server asks it for token ids as it asks vLLM
    assert model == policy.model_name


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/chat/completions", {"messages": []}, "messages"),
        ("/v1/chat/completions", {"messages": QUESTION, "temperature": -1}, "temperature"),
        ("/v1/chat/completions", {"messages": QUESTION, "stream": True}, "stream"),
        ("/v1/chat/completions", {"messages": QUESTION, "n": 2}, "n"),
        ("/v1/chat/completions", {"messages": QUESTION, "min_p": 0.1}, "min_p"),
        ("/v1/chat/completions", {"messages": QUESTION, "tool_choice": "required"}, "tool_choice"),
        ("/v1/completions", {"prompt": [1, 10**9]}, "prompt"),
        ("/v1/completions", {"prompt": []}, "prompt"),
        ("/v1/completions", {"prompt": [33] * 8192}, "prompt"),
        ("/tokenize", {}, "prompt and messages"),
        ("/detokenize", {"tokens": [-1]}, "tokens"),
    ],
)
async def test_bad_input_is_a_4xx_naming_the_field(
    policy: LivePolicy, path: str, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ServiceRejected) as rejected:
        await post(f"{policy.url}{path}", body)
    assert rejected.value.status in (400, 422)
    assert field in str(rejected.value.reason)


@pytest.fixture(scope="module")
def math_stack(policy: LivePolicy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`gym serve math` in its own process with the live policy as its engine."""
    cwd: Path = tmp_path_factory.mktemp("stack")
    with gym_serving(["math", "--policy-url", policy.url], cwd=cwd) as served:
        yield served.endpoint


def rollout_of(endpoint: str) -> Any:
    task = {
        "id": "add-3-5",
        "env": "math",
        "prompt": QUESTION[0]["content"],
        "answer": "8",
        "sampling": {"temperature": 1.0, "max_tokens": 32, "seed": 4},
    }

    async def run() -> Any:
        async with AsyncRolloutClient(endpoint) as client:
            return await client.rollout(task)

    return asyncio.run(run())


def test_a_rollout_through_gym_serve_records_the_exact_ids(
    math_stack: str, loaded: tuple[Any, Any]
) -> None:
    result = rollout_of(math_stack)
    assert result.status in ("completed", "truncated"), result.failure
    [turn] = result.turns
    assert turn.token_ids_source == "engine"
    prompt = result.prompt_token_ids(0)  # token-exact turns point into the token view
    assert prompt == template_ids(loaded[1], QUESTION)
    expected = rescored(loaded[0], prompt, turn.completion_token_ids)
    assert turn.completion_logprobs == pytest.approx(expected, abs=TOLERANCE)
    assert result.token_view is not None


def test_a_rollout_through_gym_serve_records_the_live_version(
    math_stack: str, policy: LivePolicy
) -> None:
    with policy.weights_update(version=policy.version + 3):
        pass
    result = rollout_of(math_stack)
    assert [turn.policy_version for turn in result.turns] == [policy.version]


def test_a_multi_turn_dialogue_is_one_exact_token_sequence(
    policy: LivePolicy, loaded: tuple[Any, Any]
) -> None:
    """Later turns continue the earlier turns' ids (token prompts through `/tokenize` and
    `/v1/completions`), so one forward over the whole view re-scores every generated token."""
    task = {
        "id": "talk",
        "env": "dialog",
        "prompt": "Say hello in one word.",
        "user_turns": ["Now say goodbye in one word.", "Thanks."],
        "sampling": {"temperature": 0.7, "max_tokens": 64, "seed": 0},
    }
    with importable_here(), gym_stack(["dialog"], [policy.url]) as running:

        async def run() -> Any:
            async with AsyncRolloutClient(running.endpoint) as client:
                return await client.rollout(task)

        result = asyncio.run(run())
    assert len(result.turns) >= 2  # a turn the token limit cuts ends the episode
    assert all(turn.prompt_mode == "tokens" for turn in result.turns)
    view = result.token_view
    assert view is not None
    assert view.logprobs is not None
    generated = [index for index, mask in enumerate(view.loss_mask) if mask]
    assert len(generated) == sum(len(turn.completion_token_ids or []) for turn in result.turns)
    scores = rescored(loaded[0], view.input_ids[:1], view.input_ids[1:], temperature=0.7)
    assert [view.logprobs[i] for i in generated] == pytest.approx(
        [scores[i - 1] for i in generated], abs=TOLERANCE
    )


def test_close_cancels_what_is_still_generating(loaded: tuple[Any, Any]) -> None:
    policy = LivePolicy(*loaded)
    failures: list[BaseException] = []

    def generate() -> None:
        try:
            asyncio.run(
                post(f"{policy.url}/v1/completions", {"prompt": "1, 2,", "max_tokens": 4000})
            )
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=generate)
    thread.start()
    while policy.engine.steps < 3:
        time.sleep(0.01)
    policy.close()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert failures  # answered with an error or cut, not left hanging
