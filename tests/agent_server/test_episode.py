"""The tool loop end to end: real agent, resources and policy servers on loopback, a scripted
engine standing in for the model."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from gym_core.errors import ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.launch.plan import env_service_name
from gym_core.protocol import RolloutResult
from gym_core.rollout_client import AsyncRolloutClient, RolloutClient
from tests.conftest import gym_stack, metric, scripted_engine

RULES: list[dict[str, Any]] = [
    {
        "role": "user",
        "match": "^grow",
        "tool_calls": [{"name": "echo", "arguments": {"text": "grown"}}],
    },
    {
        "role": "tool",
        "match": "^grown$",
        "status": 400,
        "reply": "This model's maximum context length is 2048 tokens. However, you requested 2100",
    },
    {
        "role": "user",
        "match": "^echo please",
        "tool_calls": [{"name": "echo", "arguments": {"text": "hi"}}],
    },
    {"role": "tool", "match": "^hi$", "reply": "done: hi"},
    {
        "role": "user",
        "match": "^bad json",
        "tool_calls": [{"name": "echo", "arguments": "{not json"}],
    },
    {"role": "user", "match": "^unknown tool", "tool_calls": [{"name": "nosuch"}]},
    {"role": "user", "match": "^explode", "tool_calls": [{"name": "explode"}]},
    {
        "role": "user",
        "match": "^wrong args",
        "tool_calls": [{"name": "add", "arguments": {"a": "x"}}],
    },
    {
        "role": "user",
        "match": "^loop forever",
        "tool_calls": [{"name": "echo", "arguments": {"text": "again"}}],
    },
    {
        "role": "tool",
        "match": "^again$",
        "tool_calls": [{"name": "echo", "arguments": {"text": "again"}}],
    },
    {
        "role": "user",
        "match": "^remember",
        "tool_calls": [{"name": "remember", "arguments": {"key": "k", "value": "v"}}],
    },
    {
        "role": "tool",
        "match": "^noted k$",
        "tool_calls": [{"name": "recall", "arguments": {"key": "k"}}],
    },
    {"role": "tool", "match": "^v$", "reply": "recalled v"},
    {"role": "tool", "reply": "tool said something"},
    {"match": "^too long", "reply": "and so on " * 20, "finish_reason": "length"},
    {"match": "^policy crash", "status": 500},
    {"match": "^policy slow", "reply": "late", "delay_s": 5},
    {"match": "^verify crash", "reply": "VERIFY_CRASH"},
    {"match": "^first question", "reply": "answer one"},
    {"match": "^second question", "reply": "answer two"},
    {"reply": "the answer is 42"},
]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with (
        scripted_engine(RULES) as engine_url,
        gym_stack(
            ["echo", "dialog", "plain"], [engine_url], agent_server={"policy_timeout_s": 2}
        ) as running,
    ):
        yield running.endpoint


def task(prompt: str, expected: str = "", **fields: Any) -> dict[str, Any]:
    return {
        "id": prompt.split()[0],
        "env": "echo",
        "prompt": prompt,
        "expected": expected,
        **fields,
    }


async def run_one(endpoint: str, row: dict[str, Any]) -> RolloutResult:
    async with AsyncRolloutClient(endpoint) as client:
        [result] = await client.rollouts([row])
        return result


async def test_a_tool_call_then_a_final_answer_completes(endpoint: str) -> None:
    result = await run_one(endpoint, task("echo please", expected="done: hi"))
    assert result.status == "completed"
    assert result.reward == 1.0
    assert result.reward_components == {"contains_expected": 1.0}
    assert [m.role for m in result.messages] == ["user", "assistant", "tool", "assistant"]
    call = result.messages[1].tool_calls[0]
    assert result.messages[2].tool_call_id == call.id
    assert result.messages[2].content == "hi"
    assert len(result.turns) == 2
    assert result.metrics["num_tool_calls"] == 1
    assert all(turn.token_ids_source == "engine" for turn in result.turns)
    assert result.prefix_consistent is True
    view = result.token_view
    assert view is not None
    generated = sum(len(turn.completion_token_ids) for turn in result.turns)
    assert sum(view.loss_mask) == generated
    assert len(view.input_ids) == len(view.loss_mask) == len(view.logprobs)


@pytest.mark.parametrize(
    ("prompt", "tool_message"),
    [
        ("bad json", "not valid JSON"),
        ("unknown tool", "there is no tool 'nosuch'"),
        ("explode", "RuntimeError: the tool broke"),
        ("wrong args", "invalid arguments for add: arguments.a: Input should be a valid integer"),
    ],
)
async def test_model_mistakes_with_tools_go_back_to_the_model(
    endpoint: str, prompt: str, tool_message: str
) -> None:
    result = await run_one(endpoint, task(prompt))
    assert result.status == "completed"
    assert tool_message in result.messages[2].content
    assert result.metrics["num_tool_errors"] == 1
    assert result.messages[-1].content == "tool said something"


async def test_tools_share_the_session_state(endpoint: str) -> None:
    result = await run_one(endpoint, task("remember this", expected="recalled v"))
    assert result.status == "completed"
    assert result.reward == 1.0
    assert result.metrics["notes"] == 1


def test_a_call_that_is_the_answer_ends_the_episode_unrun() -> None:
    not_run = {"echo": {"agent": {"run_tool_calls": False}}}
    with (
        scripted_engine(RULES) as engine_url,
        gym_stack(["echo"], [engine_url], envs=not_run) as running,
    ):
        result = asyncio.run(run_one(running.endpoint, task("echo please")))
    assert result.status == "completed"
    assert [message.role for message in result.messages] == ["user", "assistant"]
    assert [call.function.name for call in result.messages[-1].tool_calls or []] == ["echo"]
    assert result.metrics["num_tool_calls"] == 0


async def test_max_turns_truncates_and_still_verifies(endpoint: str) -> None:
    result = await run_one(endpoint, task("loop forever", expected="never"))
    assert result.status == "truncated"
    assert len(result.turns) == 4
    assert result.reward == 0.0


async def test_the_token_limit_truncates(endpoint: str) -> None:
    result = await run_one(endpoint, task("too long"))
    assert result.status == "truncated"
    assert result.turns[-1].finish_reason == "length"
    assert result.metrics["truncated_by"] == "length"


async def test_outgrowing_the_context_window_truncates_and_still_verifies(endpoint: str) -> None:
    result = await run_one(endpoint, task("grow", expected="grown"))
    assert result.status == "truncated"
    assert result.failure is None
    assert result.metrics["truncated_by"] == "context"
    assert len(result.turns) == 1  # what was generated before the context filled up
    assert [m.role for m in result.messages] == ["user", "assistant", "tool"]
    assert result.reward == 0.0  # verified like any truncation: no final answer, so 0


@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        ("policy crash", "policy_error"),
        ("policy slow", "policy_timeout"),
        ("verify crash", "verify_error"),
    ],
)
async def test_failures_are_typed_never_a_silent_zero(
    endpoint: str, prompt: str, kind: str
) -> None:
    async with AsyncRolloutClient(endpoint) as client:
        # A second task that succeeds: a batch that fails whole at the policy is a 503.
        result, other = await client.rollouts([task(prompt), task("first question")])
    assert other.status == "completed"
    assert result.status == "failed"
    assert result.failure is not None
    assert result.failure.kind == kind
    assert result.reward is None


async def test_a_task_the_environment_refuses_fails_as_bad_task(endpoint: str) -> None:
    result = await run_one(endpoint, task("echo please", expected={"not": "a string"}))  # type: ignore[arg-type]
    assert result.status == "failed"
    assert result.failure.kind == "bad_task"
    assert "task.expected" in result.failure.message


async def test_a_single_turn_episode_scores_as_the_same_episode_in_a_session(
    endpoint: str,
) -> None:
    """`plain` is `echo` without tools: its episode is verified in one call, with the same
    result as `echo`'s, which opens a session."""
    row = task("first question", expected="answer one")
    async with AsyncRolloutClient(endpoint) as client:
        in_session, in_one_call = await client.rollouts([row, {**row, "env": "plain"}])
    assert in_one_call.status == in_session.status == "completed"
    assert in_one_call.reward == in_session.reward == 1.0
    assert in_one_call.reward_components == in_session.reward_components
    assert in_one_call.metrics == in_session.metrics
    assert in_one_call.messages == in_session.messages
    assert in_one_call.timing.verify_s > 0


@pytest.mark.parametrize(
    ("row", "kind", "named"),
    [
        (task("verify crash"), "verify_error", "ValueError: the verifier could not read this"),
        (task("first question", expected={"not": "a string"}), "bad_task", "task.expected"),  # type: ignore[arg-type]
    ],
)
async def test_a_single_turn_episode_fails_typed_as_in_a_session(
    endpoint: str, row: dict[str, Any], kind: str, named: str
) -> None:
    result = await run_one(endpoint, {**row, "env": "plain"})
    assert result.status == "failed"
    assert result.failure is not None
    assert result.failure.kind == kind
    assert named in result.failure.message
    assert result.reward is None
    assert len(result.turns) == 1  # the policy's answer is kept; the task was checked after


def test_single_turn_episodes_open_no_session_and_episodes_with_tools_do() -> None:
    """Counted by the resources servers: `plain` answers one `POST /verify` per episode and
    no session route; `echo` opens and verifies a session per episode. Each is described
    once (`GET /env`), not per rollout."""
    rows = [task("first question", expected="answer one", env=env) for env in ("echo", "plain")]
    with (
        scripted_engine(RULES) as engine_url,
        gym_stack(["echo", "plain"], [engine_url]) as running,
        RolloutClient(running.endpoint) as client,
    ):
        results = client.rollouts(rows, samples_per_task=4)
        plain = running.urls[env_service_name("plain")]
        echo = running.urls[env_service_name("echo")]

        def requests(url: str, method: str, route: str) -> float:
            return metric(url, "requests_total", f'method="{method}",route="{route}"')

        assert [r.reward for r in results] == [1.0] * 8
        assert requests(plain, "POST", "/verify") == 4
        assert requests(plain, "POST", "/sessions") == 0
        assert requests(plain, "POST", "/sessions/{session_id}/verify") == 0
        assert requests(plain, "GET", "/env") == 1
        assert requests(echo, "POST", "/sessions") == 4
        assert requests(echo, "POST", "/sessions/{session_id}/verify") == 4
        assert requests(echo, "POST", "/verify") == 0
        assert requests(echo, "GET", "/env") == 1


async def test_the_environment_can_speak_after_the_assistant(endpoint: str) -> None:
    row = {
        **task("first question", expected="answer two"),
        "env": "dialog",
        "user_turns": ["second question"],
    }
    result = await run_one(endpoint, row)
    assert result.status == "completed"
    assert [m.content for m in result.messages] == [
        "first question",
        "answer one",
        "second question",
        "answer two",
    ]
    assert result.reward == 1.0
    assert result.prefix_consistent is True


async def test_samples_share_a_group_and_results_keep_task_order(endpoint: str) -> None:
    rows = [task("echo please", expected="done"), task("verify crash"), task("plain question")]
    async with AsyncRolloutClient(endpoint) as client:
        results = await client.rollouts(rows, samples_per_task=3)
    assert [(r.task_id, r.sample_index) for r in results] == [
        (row["id"], index) for row in rows for index in range(3)
    ]
    groups = [{r.group_id for r in results[i : i + 3]} for i in (0, 3, 6)]
    assert all(len(group) == 1 for group in groups)
    assert len(set.union(*groups)) == 3
    assert [r.status for r in results[3:6]] == ["failed"] * 3
    assert all(r.status == "completed" for r in results[:3] + results[6:])


async def test_streaming_returns_every_result(endpoint: str) -> None:
    rows = [task("echo please"), task("plain question")]
    async with AsyncRolloutClient(endpoint) as client:
        results = [r async for r in client.stream(rows, samples_per_task=2)]
    assert sorted((r.task_id, r.sample_index) for r in results) == [
        ("echo", 0),
        ("echo", 1),
        ("plain", 0),
        ("plain", 1),
    ]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (
            {"tasks": [{"id": "a", "env": "ehco", "prompt": "x"}]},
            "tasks.0.env: unknown environment 'ehco'. Did you mean 'echo'?",
        ),
        ({"tasks": [{"env": "echo", "prompt": "x"}]}, "tasks.0.id: Field required"),
        ({"tasks": [{"id": "a", "env": "echo", "prompt": 3}]}, "tasks.0.prompt"),
        ({"tasks": [], "samples_per_task": 1}, "tasks: List should have at least 1 item"),
        (
            {"tasks": [{"id": "a", "env": "echo", "prompt": "x"}], "samples_per_task": 0},
            "samples_per_task",
        ),
        (
            {"tasks": [{"id": "a", "env": "echo", "prompt": "x", "sampling": {"messages": []}}]},
            "tasks.0.sampling: Value error, messages: not a sampling setting",
        ),
        (
            {"tasks": [{"id": "a", "env": "echo", "prompt": "x"}], "batch_id": "a/b"},
            "batch_id: String should match pattern",
        ),
        (b'{"tasks": [{"id": "a", "env": "echo", "prompt": "x\\ud800"}]}', "lone UTF-16 surrogate"),
    ],
)
async def test_bad_requests_get_422_naming_the_field(
    endpoint: str, body: dict[str, Any] | bytes, named: str
) -> None:
    async with HttpClient() as http:
        with pytest.raises(ServiceRejected) as caught:
            await http.post(f"{endpoint}/v1/rollouts", body)
    assert caught.value.status == 422
    assert named in str(caught.value)


async def test_a_group_id_that_could_break_a_header_is_422(endpoint: str) -> None:
    body = {"task": task("hello"), "group_id": "a\r\nX-Injected: 1"}
    async with HttpClient() as http:
        with pytest.raises(
            ServiceRejected, match="group_id: String should match pattern"
        ) as caught:
            await http.post(f"{endpoint}/v1/rollout", body)
    assert caught.value.status == 422


async def test_envs_lists_the_served_environments(endpoint: str) -> None:
    async with AsyncRolloutClient(endpoint) as client:
        envs = await client.envs()
    assert {env.name for env in envs} == {"echo", "dialog", "plain"}
    assert {env.max_turns for env in envs} == {4}
