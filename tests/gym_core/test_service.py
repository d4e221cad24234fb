"""The service base every server is built on, tested on the smallest app that uses it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from gym_core.launch.local import start_service, stop_processes
from gym_core.metrics import Exposition
from gym_core.service import create_service_app, loopback_hosts
from tests.conftest import wait_healthy


class Item(BaseModel):
    name: str
    count: int


def create_app(settings: dict) -> FastAPI:
    app = create_service_app("tiny", token=settings.get("token"))

    @app.post("/items")
    async def add(item: Item) -> Item:
        return item

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    holding = 0

    @app.get("/hold")
    async def hold() -> None:
        """Never answers; counts itself while it runs."""
        nonlocal holding
        holding += 1
        try:
            await asyncio.Event().wait()
        finally:
            holding -= 1

    @app.get("/holding")
    async def held() -> int:
        return holding

    @app.get("/leak")
    async def leak() -> None:
        raise RuntimeError("cannot reach http://trainer:hunter2@10.0.0.5:8000/v1?api_key=sk-1")

    return app


@pytest.fixture(scope="module", params=[None, "s3cret"], ids=["open", "token"])
def service(request: pytest.FixtureRequest) -> Iterator[tuple[str, str | None]]:
    process = start_service(f"{__name__}:create_app", {"token": request.param}, name="tiny")
    try:
        wait_healthy(process)
        yield process.url, request.param
    finally:
        stop_processes([process])


async def call(
    url: str,
    method: str,
    path: str,
    token: str | None,
    host: str | None = None,
    **kwargs: object,
) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if host is not None:
        headers["Host"] = host
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.request(method, f"{url}{path}", **kwargs) as response,  # type: ignore[arg-type]
    ):
        return response.status, await response.text()


async def test_health_is_open_and_metrics_count_requests(service: tuple[str, str | None]) -> None:
    url, token = service
    assert await call(url, "GET", "/healthz", None) == (200, '{"status":"ok","service":"tiny"}')
    await call(url, "POST", "/items", token, json={"name": "a", "count": 1})
    status, text = await call(url, "GET", "/metrics", token)
    assert status == 200
    metrics = Exposition(text)
    items = {"service": "tiny", "method": "POST", "route": "/items"}
    assert metrics.value("requests_total", **items, status="200") >= 1
    assert metrics.value("request_seconds_bucket", **items, le="+Inf") >= 1
    assert metrics.value("in_flight", service="tiny") == 1  # this scrape
    assert metrics.value("event_loop_lag_seconds", service="tiny") >= 0


async def test_422_names_the_field(service: tuple[str, str | None]) -> None:
    url, token = service
    status, text = await call(url, "POST", "/items", token, json={"name": "a", "count": "many"})
    assert status == 422
    assert '"error":"count: Input should be a valid integer' in text


async def test_a_body_that_is_not_json_is_a_422_saying_so(service: tuple[str, str | None]) -> None:
    url, token = service
    json_type = {"Content-Type": "application/json"}
    status, text = await call(
        url, "POST", "/items", token, data=b'{"name": oops}', headers=json_type
    )
    assert status == 422
    assert '"error":"body: not valid JSON (at character 9)"' in text


async def test_an_unhandled_error_is_a_500_without_a_traceback(
    service: tuple[str, str | None],
) -> None:
    url, token = service
    status, text = await call(url, "GET", "/boom", token)
    assert status == 500
    assert "internal error: RuntimeError: secret internals" in text
    assert "Traceback" not in text
    status, _ = await call(url, "GET", "/healthz", None)
    assert status == 200


async def test_a_token_guards_everything_but_health(service: tuple[str, str | None]) -> None:
    url, token = service
    if token is None:
        pytest.skip("this server runs without a token")
    assert (await call(url, "GET", "/metrics", None))[0] == 401
    assert (await call(url, "GET", "/metrics", "wrong"))[0] == 401
    assert (await call(url, "GET", "/metrics", token))[0] == 200


async def test_a_handler_whose_client_hung_up_is_cancelled(
    service: tuple[str, str | None],
) -> None:
    url, token = service
    with pytest.raises(TimeoutError):
        await call(url, "GET", "/hold", token, timeout=aiohttp.ClientTimeout(total=0.5))
    for _ in range(100):
        if (await call(url, "GET", "/holding", token))[1] == "0":
            break
        await asyncio.sleep(0.02)
    assert (await call(url, "GET", "/holding", token))[1] == "0"
    _, text = await call(url, "GET", "/metrics", token)
    assert Exposition(text).value("requests_total", route="/hold", status="499") == 1


async def test_an_unhandled_errors_message_shows_no_secret_of_a_url(
    service: tuple[str, str | None],
) -> None:
    url, token = service
    status, text = await call(url, "GET", "/leak", token)
    assert status == 500
    assert "http://trainer:***@10.0.0.5:8000/v1?api_key=***" in text
    assert "hunter2" not in text
    assert "sk-1" not in text


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8700", "127.0.0.1.nip.io", ""])
async def test_a_loopback_service_refuses_a_host_that_is_not_loopback(
    service: tuple[str, str | None], host: str
) -> None:
    url, token = service
    status, text = await call(url, "GET", "/healthz", token, host=host)
    assert status == 421
    assert "a service bound to loopback answers only requests addressed to" in text


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:1", "127.0.0.1", "[::1]:8700"])
async def test_a_loopback_service_answers_loopback_names(
    service: tuple[str, str | None], host: str
) -> None:
    url, token = service
    assert (await call(url, "GET", "/healthz", token, host=host))[0] == 200


def test_only_loopback_binds_check_the_host() -> None:
    import socket

    with socket.socket() as loopback, socket.socket() as wildcard:
        loopback.bind(("127.0.0.2", 0))
        wildcard.bind(("0.0.0.0", 0))
        assert loopback_hosts([loopback]) == {"localhost", "127.0.0.1", "::1", "127.0.0.2"}
        assert loopback_hosts([wildcard]) is None
