"""Inputs that once got a 5xx or an unearned score, each kept as a test against the running
stack: what fuzzing (or an incident) found stays found."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from gym_core.launch.local import Running
from gym_core.launch.plan import POLICY, env_service_name
from gym_core.rollout_client import RolloutClient

SURROGATE = b'"x\\ud800"'
ECHO = env_service_name("echo")


@pytest.mark.parametrize(
    ("service", "path", "body"),
    [
        (
            "agent",
            "/v1/rollout",
            b'{"task": {"id": "a", "env": "echo", "prompt": ' + SURROGATE + b"}}",
        ),
        (
            POLICY,
            "/v1/chat/completions",
            b'{"messages": [{"role": "user", "content": ' + SURROGATE + b"}]}",
        ),
        (ECHO, "/sessions", b'{"task": {"id": "a", "env": "echo", "prompt": ' + SURROGATE + b"}}"),
    ],
)
def test_a_lone_surrogate_is_422_at_every_service(
    stack: Running, service: str, path: str, body: bytes
) -> None:
    answer = requests.post(
        f"{stack.urls[service]}{path}",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert answer.status_code == 422
    assert "lone UTF-16 surrogate" in answer.json()["error"]


@pytest.mark.parametrize("gold", ["", "   "])
def test_an_empty_gold_answer_fails_as_bad_task_and_is_never_scored(
    stack: Running, gold: str
) -> None:
    task = {"id": "empty-gold", "env": "math", "prompt": "What is 2+2?", "answer": gold}
    with RolloutClient(stack.endpoint) as client:
        [result] = client.rollouts([task])
    assert result.status == "failed"
    assert result.reward is None
    assert result.failure is not None
    assert result.failure.kind == "bad_task"
    assert "answer" in result.failure.message


def test_an_empty_prompt_is_422_naming_it(stack: Running) -> None:
    """It was taken, sent to the policy as no messages at all, and the batch answered 503."""
    body: dict[str, Any] = {"tasks": [{"id": "a", "env": "echo", "prompt": []}]}
    answer = requests.post(f"{stack.endpoint}/v1/rollouts", json=body, timeout=60)
    assert answer.status_code == 422
    assert "tasks.0.prompt" in answer.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        ("/v1/completions", {"prompt": [1, 2, 10**9], "max_tokens": 4}, "prompt.list"),
        ("/v1/completions", {"prompt": "hi", "max_tokens": 2.5}, "max_tokens"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": 1.5}]}, "content"),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "hi"}], "max_tokens": "many"},
            "max_tokens",
        ),
    ],
)
def test_what_the_engine_cannot_read_is_a_4xx_naming_it_not_a_502(
    stack: Running, path: str, body: dict[str, Any], named: str
) -> None:
    """The scripted engine crashed on these, and the gateway relayed that as a 502; a real
    engine answers 400, and so does the scripted one now."""
    answer = requests.post(f"{stack.urls[POLICY]}{path}", json=body, timeout=60)
    assert answer.status_code == 400
    assert named in answer.json()["error"]
