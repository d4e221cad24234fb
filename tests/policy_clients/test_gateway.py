"""The policy server in front of engines that answer exactly as vLLM, SGLang, llama.cpp's server
and OpenAI do (scripted stand-ins, since the real engines cannot start quickly here)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from gym_core.errors import ServiceFailed, ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.launch.local import start_service, stop_processes
from gym_core.settings import PolicyServerSettings
from policy_clients.scripted import CHATML_TEMPLATE, render_prompt, tokenize
from tests.conftest import scripted_engine, wait_healthy

RULES = [
    {
        "role": "user",
        "match": "^add",
        "tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}],
    },
    {"role": "tool", "reply": "It is 3."},
    {"match": "^<tool_response>", "reply": "It is 3."},  # the tool turn, as RL Gym renders it
    {"match": "^slow", "reply": "done", "delay_s": 1.0},
    {"reply": "Hello there."},
]
SLOW = {"role": "user", "content": "slow please"}
TOOLS = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]


@contextlib.contextmanager
def policy_server(engine_urls: list[str], **settings: Any) -> Iterator[str]:
    config = PolicyServerSettings(engine_urls=engine_urls, **settings)
    process = start_service("policy_clients.server:create_app", config.model_dump(), name="policy")
    try:
        wait_healthy(process)
        yield process.url
    finally:
        stop_processes([process])


@contextlib.contextmanager
def gateway(shape: str, **settings: Any) -> Iterator[str]:
    with scripted_engine(RULES, shape=shape) as engine, policy_server([engine], **settings) as url:
        yield url


async def chat(url: str, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    async with HttpClient() as http:
        return await http.post(f"{url}/v1/chat/completions", {"messages": messages, **extra})  # type: ignore[no-any-return]


def exact_ids_of(answer: dict[str, Any], messages: list[dict[str, Any]]) -> None:
    """The ids are the byte-level tokens of what the scripted engine saw and said."""
    assert answer["token_ids_source"] == "engine"
    assert answer["prompt_token_ids"] == tokenize(render_prompt(messages))
    choice = answer["choices"][0]
    assert len(choice["token_ids"]) == len(choice["logprobs"]["content"])
    assert all(entry["logprob"] == -0.125 for entry in choice["logprobs"]["content"])


@pytest.fixture(scope="module")
def vllm() -> Iterator[str]:
    with gateway("vllm") as url:
        yield url


@pytest.fixture(scope="module", params=["vllm", "llamacpp"])
def exact(request: pytest.FixtureRequest) -> Iterator[str]:
    with gateway(request.param) as url:
        yield url


@pytest.fixture(scope="module", params=["openai", "sglang"])
def text_only(request: pytest.FixtureRequest) -> Iterator[str]:
    with gateway(request.param) as url:
        yield url


@pytest.fixture(scope="module")
def sglang(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    template = tmp_path_factory.mktemp("template") / "chatml.jinja"
    template.write_text(CHATML_TEMPLATE)
    with gateway("sglang", engine="sglang", chat_template=str(template)) as url:
        yield url


async def test_exact_ids_through_the_gateway(exact: str) -> None:
    messages = [{"role": "user", "content": "hi"}]
    answer = await chat(exact, messages)
    exact_ids_of(answer, messages)
    assert answer["choices"][0]["message"]["content"] == "Hello there."


async def test_sglang_ids_come_from_its_native_generate(sglang: str) -> None:
    first = [{"role": "user", "content": "add 1 and 2"}]
    answer = await chat(sglang, first, tools=TOOLS)
    call = answer["choices"][0]["message"]
    tool_turn = {"role": "tool", "tool_call_id": call["tool_calls"][0]["id"], "content": "3"}
    follow_up = await chat(sglang, [*first, call, tool_turn], tools=TOOLS)
    assert answer["token_ids_source"] == "engine"
    assert call["tool_calls"][0]["function"]["name"] == "add"
    assert answer["choices"][0]["finish_reason"] == "tool_calls"
    previous = answer["prompt_token_ids"] + answer["choices"][0]["token_ids"]
    assert follow_up["prompt_token_ids"][: len(previous)] == previous
    assert follow_up["choices"][0]["message"]["content"] == "It is 3."


async def test_text_only_engines_say_so(text_only: str) -> None:
    answer = await chat(text_only, [{"role": "user", "content": "hi"}])
    assert answer["token_ids_source"] == "none"
    assert answer.get("prompt_token_ids") is None
    assert len(answer["choices"][0]["logprobs"]["content"]) > 0


async def test_streaming_passes_chunks_with_token_ids(vllm: str) -> None:
    messages = [{"role": "user", "content": "hi"}]
    async with HttpClient() as http:
        lines = [
            line
            async for line in http.stream_lines(
                f"{vllm}/v1/chat/completions", {"messages": messages, "stream": True}
            )
        ]
    assert lines[-1].strip() == b"data: [DONE]"
    chunks = [orjson.loads(line[5:]) for line in lines[:-1]]
    assert chunks[0]["prompt_token_ids"] == tokenize(render_prompt(messages))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "Hello there."
    ids = [i for c in chunks for i in c["choices"][0].get("token_ids") or []]
    assert ids == tokenize("Hello there.<|im_end|>")
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(chunk["policy_version"] == 0 for chunk in chunks)


async def test_completions_carry_token_ids(vllm: str) -> None:
    async with HttpClient() as http:
        answer = await http.post(f"{vllm}/v1/completions", {"prompt": "Once upon"})
    assert answer["prompt_token_ids"] == tokenize("Once upon")
    assert answer["choices"][0]["text"] == "Hello there."
    assert answer["token_ids_source"] == "engine"


async def test_pause_holds_new_generations_until_resume_with_a_new_version(vllm: str) -> None:
    async with HttpClient() as http:
        slow = asyncio.ensure_future(chat(vllm, [{"role": "user", "content": "slow please"}]))
        await asyncio.sleep(0.3)
        paused = await http.post(f"{vllm}/admin/pause", {})  # waits for the slow one
        assert (await slow)["policy_version"] == 0
        assert paused == {"paused": True, "running": 0, "policy_version": 0}
        held = asyncio.ensure_future(chat(vllm, [{"role": "user", "content": "hi"}]))
        await asyncio.sleep(0.3)
        assert not held.done()
        resumed = await http.post(f"{vllm}/admin/resume", {"policy_version": 7})
        assert resumed == {"paused": False, "policy_version": 7}
        assert (await held)["policy_version"] == 7
        await http.post(f"{vllm}/admin/policy_version", {"version": 8})
        assert (await chat(vllm, [{"role": "user", "content": "hi"}]))["policy_version"] == 8


def chat_requests_seen(engine_url: str) -> int:
    with urllib.request.urlopen(f"{engine_url}/metrics") as answer:
        counts = re.findall(
            rb'rlgym_requests_total\{[^}]*route="/v1/chat/completions"[^}]*\} (\d+)', answer.read()
        )
    return sum(int(count) for count in counts)


def test_each_request_to_an_engine_has_a_timeout_and_one_layer_retries() -> None:
    async def ask_slowly(url: str) -> None:
        async with HttpClient() as http:  # a client that retries 504s from proxies
            await http.post(f"{url}/v1/chat/completions", {"messages": [SLOW]})

    with (
        scripted_engine(RULES) as engine,
        policy_server([engine], request_timeout_s=0.3) as url,
    ):
        with pytest.raises(ServiceFailed, match="HTTP 504: the engine did not answer") as caught:
            asyncio.run(ask_slowly(url))
        assert caught.value.status == 504
        time.sleep(1.5)  # the engine counts a request when it has answered it
        # The gateway timed the generation out once; nobody sent it again.
        assert chat_requests_seen(engine) == 1
        assert asyncio.run(chat(url, [{"role": "user", "content": "hi"}]))["choices"]


def test_a_replica_runs_at_most_its_concurrency_limit() -> None:
    async def finishing_order(url: str) -> list[str]:
        finished: list[str] = []

        async def ask(name: str, message: dict[str, str]) -> None:
            await chat(url, [message])
            finished.append(name)

        slow = asyncio.ensure_future(ask("slow", SLOW))
        await asyncio.sleep(0.3)  # the slow request holds the replica's one slot
        await asyncio.gather(slow, ask("quick", {"role": "user", "content": "hi"}))
        return finished

    with gateway("vllm", max_concurrency_per_replica=1) as url:
        assert asyncio.run(finishing_order(url)) == ["slow", "quick"]
    with gateway("vllm", max_concurrency_per_replica=2) as url:
        assert asyncio.run(finishing_order(url)) == ["quick", "slow"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"messages": []}, "messages: List should have at least 1 item"),
        ({"messages": [{"content": "x"}]}, "messages.0.role: Field required"),
        ({"prompt": 3}, "prompt"),
    ],
)
async def test_bad_requests_are_422_naming_the_field(
    vllm: str, body: dict[str, Any], named: str
) -> None:
    path = "/v1/completions" if "prompt" in body else "/v1/chat/completions"
    async with HttpClient() as http:
        with pytest.raises(ServiceRejected, match=named) as caught:
            await http.post(f"{vllm}{path}", body)
    assert caught.value.status == 422
