"""Routing over several engine replicas: sticky episodes, load spreading, failover."""

from __future__ import annotations

import asyncio
import signal
import socket

import aiohttp

from gym_core.chat_api import SESSION_HEADER
from gym_core.http_client import HttpClient
from gym_core.metrics import Exposition
from gym_core.rollout_client import AsyncRolloutClient
from tests.conftest import gym_stack, scripted_replicas
from tests.policy_clients.test_gateway import policy_server

RULES = [{"match": "^slow", "reply": "done", "delay_s": 0.3}, {"reply": "ok"}]


async def chat_count(url: str) -> int:
    """Chat requests an engine has answered, from its own /metrics."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    return int(Exposition(text).value("requests_total", route="/v1/chat/completions", status="200"))


async def ask(http: HttpClient, url: str, session: str, content: str = "hi") -> dict:
    body = {"messages": [{"role": "user", "content": content}]}
    return await http.post(f"{url}/v1/chat/completions", body, headers={SESSION_HEADER: session})  # type: ignore[no-any-return]


def test_an_episode_sticks_to_one_replica_and_episodes_spread() -> None:
    with scripted_replicas(2, RULES) as engines, policy_server([e.url for e in engines]) as url:

        async def run() -> tuple[list[int], list[int]]:
            async with HttpClient() as http:
                for _ in range(6):
                    await ask(http, url, "episode-a")
                sticky = [await chat_count(e.url) for e in engines]
                await asyncio.gather(*(ask(http, url, f"episode-{i}", "slow") for i in range(8)))
                spread = [await chat_count(e.url) - s for e, s in zip(engines, sticky, strict=True)]
                return sticky, spread

        sticky, spread = asyncio.run(run())
    assert sorted(sticky) == [0, 6]
    assert spread == [4, 4]  # concurrent new episodes go to the least-loaded replica


def test_an_unreachable_replica_is_routed_around() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with scripted_replicas(1, RULES) as [engine], policy_server([dead, engine.url]) as url:

        async def run() -> dict:
            async with HttpClient() as http:
                answers = [await ask(http, url, f"e{i}") for i in range(4)]
                assert all(a["choices"][0]["message"]["content"] == "ok" for a in answers)
                return await http.get(f"{url}/admin/status")  # type: ignore[no-any-return]

        status = asyncio.run(run())
    health = {replica["engine"]: replica["healthy"] for replica in status["engines"]}
    assert health == {dead: False, engine.url: True}


def test_rollouts_complete_when_a_replica_dies_mid_run() -> None:
    rules = [{"reply": "done", "delay_s": 1.0}]
    rows = [{"id": f"t{i}", "env": "echo", "prompt": "go", "expected": "done"} for i in range(24)]
    with (
        scripted_replicas(2, rules) as engines,
        gym_stack(["echo"], [e.url for e in engines]) as running,
    ):

        async def run() -> list:
            async with AsyncRolloutClient(running.endpoint) as client:
                batch = asyncio.ensure_future(client.rollouts(rows))
                await asyncio.sleep(0.5)  # every rollout is waiting on a replica now
                engines[0].signal_group(signal.SIGKILL)
                return await batch

        results = asyncio.run(run())
    assert [r.status for r in results] == ["completed"] * 24
    assert all(r.reward == 1.0 for r in results)
    retried = [r for r in results if r.timing.policy_s > 1.4]
    assert 0 < len(retried) < 24  # the killed replica's half was answered again elsewhere
