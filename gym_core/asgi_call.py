"""One HTTP request run against an ASGI app in the same process, with no socket.

Under `gym serve --cluster` a service calls another over HTTP at the replica's own port, or,
until the replica's address is known, through a Ray Serve deployment handle: the handle
carries the request's method, path, headers and body to a replica, which runs them against
its own app with `call_app`. The app answers as it would over HTTP (routing, validation, 4xx
bodies, `X-Processed`), so the FastAPI apps stay the only definition of each service's
protocol.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message

__all__ = ["RawHeaders", "RawReply", "call_app"]

RawHeaders = list[tuple[bytes, bytes]]
RawReply = tuple[int, RawHeaders, bytes]
"""Status, headers and body: plain values, cheap to pickle across a Ray call."""

NO_ANSWER = 500


async def call_app(
    app: ASGIApp, method: str, target: str, headers: RawHeaders, body: bytes
) -> RawReply:
    """Run `method target` (a path with an optional query) against `app`; its whole answer.

    Cancelling the call cancels the request in the app, as a client that hangs up does.
    """
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": None,
        "server": None,
    }
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.get_running_loop().create_future()  # the caller never hangs up by itself
        raise AssertionError("unreachable")  # pragma: no cover

    status = NO_ANSWER
    answer_headers: RawHeaders = []
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        nonlocal status, answer_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            answer_headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(scope, receive, send)
    except Exception:
        if status == NO_ANSWER and not chunks:
            raise  # the app answered nothing: the caller sees the exchange break
    return status, answer_headers, b"".join(chunks)
