"""The scripted engine keeps the requests it got, when asked to, for tests of what a policy
is sent."""

from __future__ import annotations

import asyncio

import pytest

from gym_core.http_client import HttpClient
from tests.conftest import scripted_engine


@pytest.mark.parametrize("record", [True, False])
def test_requests_are_kept_in_order_only_when_recording(record: bool) -> None:
    bodies = [
        {"model": "scripted", "messages": [{"role": "user", "content": f"question {i}"}]}
        for i in range(2)
    ]

    async def ask(url: str) -> list[object]:
        async with HttpClient(timeout_s=30) as http:
            for body in bodies:
                await http.post(f"{url}/v1/chat/completions", body)
            answer = await http.get(f"{url}/requests")
        return answer["requests"]  # type: ignore[no-any-return]

    with scripted_engine([{"reply": "4"}], record_requests=record) as url:
        assert asyncio.run(ask(url)) == (bodies if record else [])
