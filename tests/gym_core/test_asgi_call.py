"""A request run against a service app in-process answers as it would over HTTP."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from gym_core.asgi_call import call_app
from gym_core.service import create_service_app

JSON = [(b"content-type", b"application/json")]


class Item(BaseModel):
    name: str
    count: int


def make_app(token: str | None = None) -> tuple[FastAPI, asyncio.Event]:
    app = create_service_app("test", token=token)
    cancelled = asyncio.Event()

    @app.post("/items")
    async def create(item: Item, request: Request) -> dict[str, object]:
        return {"name": item.name, "count": item.count, "q": request.query_params.get("q")}

    @app.get("/slow")
    async def slow() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    return app, cancelled


async def test_a_request_reaches_its_route_with_body_and_query() -> None:
    app, _ = make_app()
    body = orjson.dumps({"name": "a", "count": 2})
    status, headers, answer = await call_app(app, "POST", "/items?q=x", JSON, body)
    assert status == 200
    assert orjson.loads(answer) == {"name": "a", "count": 2, "q": "x"}
    assert (b"content-type", b"application/json") in headers


async def test_bad_input_is_a_422_naming_the_field() -> None:
    app, _ = make_app()
    body = orjson.dumps({"name": "a", "count": "many"})
    status, _, answer = await call_app(app, "POST", "/items", JSON, body)
    assert status == 422
    assert orjson.loads(answer)["detail"][0]["loc"] == ["body", "count"]


async def test_an_error_in_a_handler_is_the_services_own_500() -> None:
    app, _ = make_app()
    status, _, answer = await call_app(app, "GET", "/broken", [], b"")
    assert status == 500
    assert orjson.loads(answer)["error"] == "internal error: RuntimeError: boom"


async def test_the_token_is_checked_as_over_http() -> None:
    app, _ = make_app(token="s3cret")
    status, _, _ = await call_app(app, "GET", "/metrics", [], b"")
    assert status == 401
    bearer = [(b"authorization", b"Bearer s3cret")]
    status, _, _ = await call_app(app, "GET", "/metrics", bearer, b"")
    assert status == 200


async def test_cancelling_the_call_cancels_the_handler() -> None:
    app, cancelled = make_app()
    call = asyncio.ensure_future(call_app(app, "GET", "/slow", [], b""))
    await asyncio.sleep(0.2)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await asyncio.wait_for(cancelled.wait(), timeout=10)
