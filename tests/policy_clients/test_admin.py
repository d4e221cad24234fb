"""The policy server's admin routes are hard to break: bounded versions, the token, the lock,
a pause that lifts itself, and no secret of an engine URL in any answer."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from gym_core.errors import ServiceError, ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.protocol import MAX_POLICY_VERSION
from gym_core.rollout_client import RolloutClient
from policy_clients.server import Gate
from tests.conftest import free_port, gym_stack, scripted_engine
from tests.policy_clients.test_gateway import RULES, SLOW, chat, gateway, policy_server

TOKEN = "admin-token-123"
SECRET_URL = f"http://trainer:hunter2@127.0.0.1:{free_port()}"  # nothing listens there
SHOWN_URL = SECRET_URL.replace("hunter2", "***")
ADMIN_CALLS = [
    ("/admin/policy_version", {"version": 2}),
    ("/admin/pause", {"timeout_s": 1}),
    ("/admin/resume", {}),
]


@pytest.fixture(scope="module")
def open_gateway() -> Iterator[str]:
    with gateway("vllm") as url:
        yield url


@pytest.fixture(scope="module")
def token_gateway() -> Iterator[str]:
    with gateway("vllm", token=TOKEN) as url:
        yield url


@pytest.fixture(scope="module")
def locked_gateway() -> Iterator[str]:
    with gateway("vllm", lock_admin=True) as url:
        yield url


@pytest.fixture(scope="module")
def secret_gateway() -> Iterator[str]:
    with policy_server([SECRET_URL]) as url:
        yield url


async def post(url: str, body: dict[str, Any], token: str | None = None) -> Any:
    """POST `body` encoded by the standard library, which writes integers of any size."""
    async with HttpClient(token=token, max_retries=0) as http:
        return await http.post(url, json.dumps(body).encode())


async def status_of(url: str, body: dict[str, Any], token: str | None = None) -> int:
    """The HTTP status of a POST (200 when it succeeded)."""
    try:
        await post(url, body, token)
    except ServiceRejected as error:
        return error.status
    return 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/admin/policy_version", {"version": 2**64}),
        ("/admin/policy_version", {"version": MAX_POLICY_VERSION + 1}),
        ("/admin/policy_version", {"version": -1}),
        ("/admin/resume", {"policy_version": 2**64}),
        ("/admin/policy_version", {"version": True}),
        ("/admin/resume", {"policy_version": True}),
    ],
)
async def test_versions_beyond_the_bound_are_422_and_generation_goes_on(
    open_gateway: str, path: str, body: dict[str, Any]
) -> None:
    url = open_gateway
    with pytest.raises(ServiceRejected, match="version") as caught:
        await post(f"{url}{path}", body)
    assert caught.value.status == 422
    await post(f"{url}/admin/policy_version", {"version": MAX_POLICY_VERSION})
    answer = await chat(url, [{"role": "user", "content": "hi"}])
    assert answer["policy_version"] == MAX_POLICY_VERSION


def test_the_rollout_endpoint_refuses_an_unbounded_version_and_a_locked_admin() -> None:
    with (
        scripted_engine(RULES) as engine,
        gym_stack(["echo"], [engine], serve={"lock_admin": True}) as running,
        RolloutClient(running.endpoint) as client,
    ):
        for version in (2**64, 2**63, MAX_POLICY_VERSION + 1):
            body = {"version": version}
            with pytest.raises(ServiceRejected, match="version") as caught:
                asyncio.run(post(f"{running.endpoint}/v1/policy/version", body))
            assert caught.value.status == 422
        with pytest.raises(ServiceRejected, match="locked") as caught:
            client.set_policy_version(3)  # no token is set: nobody may change it
        assert caught.value.status == 403
        assert client.policy().version == 0


async def test_with_a_token_every_admin_route_needs_it(token_gateway: str) -> None:
    for path, body in ADMIN_CALLS:
        assert await status_of(f"{token_gateway}{path}", body) == 401
        assert await status_of(f"{token_gateway}{path}", body, token="wrong-token") == 401
        assert await status_of(f"{token_gateway}{path}", body, token=TOKEN) == 200


async def test_locked_admin_routes_answer_403_without_a_token_and_generation_goes_on(
    locked_gateway: str,
) -> None:
    url = locked_gateway
    for path, body in ADMIN_CALLS:
        assert await status_of(f"{url}{path}", body) == 403
    async with HttpClient() as http:
        state = await http.get(f"{url}/admin/status")
    assert (state["version"], state["paused"]) == (0, False)
    assert (await chat(url, [{"role": "user", "content": "hi"}]))["policy_version"] == 0


async def test_a_pause_with_a_deadline_lifts_itself(caplog: pytest.LogCaptureFixture) -> None:
    gate = Gate()
    gate.version = 4
    with caplog.at_level(logging.WARNING, logger="rl_gym.policy"):
        await gate.pause(timeout_s=1, deadline_s=0.05)
        assert gate.paused
        lifts_in = gate.lifts_in_s
        assert lifts_in is not None
        assert lifts_in <= 0.05
        async with asyncio.timeout(30), gate.generation() as version:  # held until the deadline
            assert version == 4
    assert not gate.paused
    assert gate.lifts_in_s is None
    assert "the pause reached its deadline (0.05s) without a resume" in caplog.text


async def test_a_resume_or_a_new_pause_replaces_the_deadline() -> None:
    gate = Gate()
    await gate.pause(timeout_s=1, deadline_s=0.05)
    await gate.pause(timeout_s=1)  # a pause without a deadline: until a resume
    await asyncio.sleep(0.2)
    assert gate.paused
    assert gate.lifts_in_s is None
    await gate.pause(timeout_s=1, deadline_s=0.05)
    gate.resume()
    assert gate.lifts_in_s is None


async def test_the_deadline_shows_in_the_status_and_a_held_turn_runs_after_it(
    open_gateway: str,
) -> None:
    url = open_gateway
    async with HttpClient() as http:
        await http.post(f"{url}/admin/pause", {"deadline_s": 0.5})
        state = await http.get(f"{url}/admin/status")
        assert state["paused"] is True
        assert 0 < state["pause_lifts_in_s"] <= 0.5
    answer = await chat(url, [SLOW])  # waits for the deadline, then runs
    assert answer["choices"][0]["message"]["content"] == "done"
    async with HttpClient() as http:
        state = await http.get(f"{url}/admin/status")
    assert (state["paused"], state["pause_lifts_in_s"]) == (False, None)


async def test_an_engine_urls_password_is_never_shown(secret_gateway: str) -> None:
    async with HttpClient() as http:
        state = await http.get(f"{secret_gateway}/admin/status")
    assert state["engines"][0]["engine"] == SHOWN_URL
    with pytest.raises(ServiceError) as caught:
        await chat(secret_gateway, [{"role": "user", "content": "hi"}])
    assert "hunter2" not in str(caught.value)
    assert "trainer:***@127.0.0.1" in str(caught.value)


def test_a_failed_rollout_never_shows_the_engine_urls_password() -> None:
    body = json.dumps({"tasks": [{"id": "a", "env": "echo", "prompt": "hi"}]}).encode()
    with gym_stack(["echo"], [SECRET_URL]) as running:
        request = urllib.request.Request(
            f"{running.endpoint}/v1/rollouts", body, {"Content-Type": "application/json"}
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=120)
        with RolloutClient(running.endpoint) as client:
            state = client.policy()
    answer = caught.value.read().decode()
    assert caught.value.code == 503  # every sample failed at the policy; the results are here
    [result] = json.loads(answer)["results"]
    assert result["status"] == "failed"
    assert "trainer:***@127.0.0.1" in result["failure"]["message"]
    assert "hunter2" not in answer
    assert [engine.engine for engine in state.engines] == [SHOWN_URL]
