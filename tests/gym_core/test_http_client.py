"""The HTTP client against a real aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from gym_core.errors import ServiceFailed, ServiceRejected, ServiceTimeout, ServiceUnavailable
from gym_core.http_client import HttpClient


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, dict[str, int]]]:
    calls = {"flaky": 0, "down": 0, "processed": 0, "full": 0}

    async def flaky(request: web.Request) -> web.Response:
        calls["flaky"] += 1
        if calls["flaky"] < 3:
            return web.json_response({"error": "busy"}, status=503)
        return web.json_response({"ok": True, "echo": await request.json()})

    async def down(request: web.Request) -> web.Response:
        calls["down"] += 1
        return web.json_response({"error": "still busy"}, status=503)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({})

    async def rejected(request: web.Request) -> web.Response:
        return web.json_response(
            {"error": "tasks.0.env: Field required", "detail": [{"loc": ["body", "tasks", 0]}]},
            status=422,
        )

    async def compressing(request: web.Request) -> web.Response:
        """Compresses whenever the client accepts it, as many engines and proxies do."""
        response = web.json_response({"accepted": request.headers.get("Accept-Encoding")})
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response.enable_compression(web.ContentCoding.gzip)
        return response

    async def processed(request: web.Request) -> web.Response:
        calls["processed"] += 1
        return web.json_response(
            {"error": "ran, and failed"}, status=503, headers={"X-Processed": "true"}
        )

    async def full(request: web.Request) -> web.Response:
        """Busy for five calls: a queue that is full, then has room."""
        calls["full"] += 1
        if calls["full"] <= 5:
            return web.json_response({"error": "busy"}, status=429, headers={"Retry-After": "0.05"})
        return web.json_response({"ok": True})

    async def broken(request: web.Request) -> web.Response:
        return web.Response(text="Internal Server Error", status=500)

    async def lines(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for index in range(3):
            await response.write(b'{"n": %d}\n\n' % index)
        return response

    app = web.Application()
    app.add_routes(
        [
            web.post("/flaky", flaky),
            web.post("/down", down),
            web.get("/slow", slow),
            web.post("/rejected", rejected),
            web.get("/broken", broken),
            web.get("/compressing", compressing),
            web.post("/processed", processed),
            web.post("/full", full),
            web.post("/lines", lines),
        ]
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", calls
    await runner.cleanup()


async def test_503_is_retried_with_backoff_until_it_succeeds(
    server: tuple[str, dict[str, int]],
) -> None:
    url, calls = server
    async with HttpClient(backoff_s=0.001) as http:
        assert await http.post(f"{url}/flaky", {"a": 1}) == {"ok": True, "echo": {"a": 1}}
    assert calls["flaky"] == 3


async def test_retries_are_bounded(server: tuple[str, dict[str, int]]) -> None:
    url, calls = server
    async with HttpClient(max_retries=2, backoff_s=0.001) as http:
        with pytest.raises(ServiceUnavailable, match="after 3 attempts"):
            await http.post(f"{url}/down", {})
    assert calls["down"] == 3


async def test_a_refused_connection_is_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with HttpClient(max_retries=1, backoff_s=0.001) as http:
        with pytest.raises(ServiceUnavailable, match="cannot connect"):
            await http.get(f"http://127.0.0.1:{port}/x")


async def test_every_call_has_a_timeout(server: tuple[str, dict[str, int]]) -> None:
    url, _ = server
    async with HttpClient(timeout_s=0.2) as http:
        with pytest.raises(ServiceTimeout, match="no answer within 0.2s"):
            await http.get(f"{url}/slow")


async def test_4xx_and_5xx_are_typed_with_the_reason(server: tuple[str, dict[str, int]]) -> None:
    url, _ = server
    async with HttpClient() as http:
        with pytest.raises(ServiceRejected) as rejected:
            await http.post(f"{url}/rejected", {})
        with pytest.raises(ServiceFailed, match="HTTP 500: Internal Server Error"):
            await http.get(f"{url}/broken")
    assert rejected.value.status == 422
    assert "tasks.0.env: Field required" in str(rejected.value)
    assert rejected.value.detail == [{"loc": ["body", "tasks", 0]}]


async def test_stream_lines_yields_each_non_empty_line(server: tuple[str, dict[str, int]]) -> None:
    url, _ = server
    async with HttpClient() as http:
        lines = [line async for line in http.stream_lines(f"{url}/lines", {})]
    assert [line.strip() for line in lines] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']


async def test_only_encodings_it_decodes_are_asked_for(server: tuple[str, dict[str, int]]) -> None:
    url, _ = server
    async with HttpClient() as http:
        assert await http.get(f"{url}/compressing") == {"accepted": "identity"}


async def test_a_503_the_service_marks_processed_is_not_sent_again(
    server: tuple[str, dict[str, int]],
) -> None:
    url, calls = server
    async with HttpClient(backoff_s=0.001) as http:
        with pytest.raises(ServiceFailed, match="HTTP 503: ran, and failed"):
            await http.post(f"{url}/processed", {})
    assert calls["processed"] == 1


async def test_a_busy_answer_is_waited_out_within_its_budget_uncounted(
    server: tuple[str, dict[str, int]],
) -> None:
    url, calls = server
    async with HttpClient(max_retries=0) as http:  # no budget: the 429 is the answer
        with pytest.raises(ServiceRejected, match="HTTP 429: busy"):
            await http.post(f"{url}/full", {})
    async with HttpClient(max_retries=0, max_busy_wait_s=5) as http:
        assert await http.post(f"{url}/full", {}) == {"ok": True}
    assert calls["full"] == 6
