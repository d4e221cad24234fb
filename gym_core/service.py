"""The base every RL Gym HTTP service is built on.

`create_service_app` gives a FastAPI app with `GET /healthz`, `GET /metrics`, request metrics,
an optional bearer token, orjson responses, error handlers that answer 4xx naming the bad
field and never send a traceback, and handlers cancelled when their client hangs up. `serve`
runs an app with uvicorn on sockets the launcher already bound; on loopback it answers only
requests addressed to a loopback name, so that a web page cannot reach a service through a name
it made resolve to 127.0.0.1 (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import ipaddress
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import orjson

# What uvicorn would import as each server starts, imported with this module instead: the
# launcher imports it once, and the services it forks start without importing it again.
import uvicorn
import uvicorn.lifespan.on
import uvicorn.loops.auto
import uvicorn.loops.uvloop
import uvicorn.protocols.http.auto
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import LifespanType

from gym_core.loop_lag import watch_loop_lag
from gym_core.metrics import CONTENT_TYPE, ServiceMetrics
from gym_core.open_files import OPEN_FILES_RESERVE, raise_open_file_limit
from gym_core.redaction import redact

__all__ = [
    "OrjsonResponse",
    "create_service_app",
    "field_errors",
    "json_response",
    "serve",
    "server_for",
]

log = logging.getLogger("rl_gym")

SERVER_KEEPALIVE_S = 65
"""Longer than the client's pooled keep-alive, so servers never close a connection first."""
OPEN_PATHS = frozenset({"/healthz"})
"""Paths that answer without the token, so launchers and load balancers can probe."""
CLIENT_CLOSED_STATUS = 499
"""What the metrics record for a request whose client hung up before its answer (nginx's)."""
LISTEN_BACKLOG = 65535
"""Connections the kernel holds until the service accepts them (capped at
`net.core.somaxconn`): thousands of episodes connect at once, and a connection that finds the
queue full waits out a SYN retransmission, seconds."""
WATCH_AFTER_S = 0.2
"""A handler still running after this long is watched for its client hanging up: a hang-up is
noticed within this bound, and the many requests answered sooner pay nothing for it."""
HUNG_UP_KEY = "rl_gym.hung_up"
"""Set in the ASGI scope of a request whose handler was cancelled because its client left."""
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
"""Host names a service bound to loopback answers to (and the address it is bound to)."""
MAX_APPROVED_HOSTS = 64


def json_response(model: BaseModel) -> Response:
    """`model` as JSON, serialized by pydantic in one pass. Returning the model instead sends it
    down FastAPI's response-model path, which validates it again and encodes it field by field;
    on the hot endpoints that was a large share of a request's CPU."""
    return Response(model.model_dump_json(), media_type="application/json")


class OrjsonResponse(JSONResponse):
    """JSON rendered by orjson: several times faster than the standard library."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def create_service_app(
    name: str,
    *,
    token: str | None = None,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """A FastAPI app with the routes, middleware and error handling every service shares.

    Args:
        name: the service's name, used in `/healthz` and as the metrics' `service` label.
        token: when set, every request but `/healthz` must carry `Authorization: Bearer TOKEN`.
        lifespan: the service's own startup and shutdown.

    The open-file limit is raised as far as allowed (see `gym_core.open_files`); a service
    that knows how many connections its settings hold checks them itself before.
    """
    raise_open_file_limit(OPEN_FILES_RESERVE)
    metrics = ServiceMetrics(name)

    @asynccontextmanager
    async def service_lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with watch_loop_lag(metrics.event_loop_lag):
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield

    app = FastAPI(title=name, default_response_class=OrjsonResponse, lifespan=service_lifespan)
    app.state.metrics = metrics
    app.add_middleware(_StrictJsonMiddleware)
    app.add_middleware(_CancelOnHangUp)
    app.add_middleware(_MetricsMiddleware, metrics=metrics)
    if token:
        app.add_middleware(_TokenMiddleware, token=token)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": name}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
    return app


def field_errors(errors: Sequence[Any]) -> str:
    """One line per problem, each naming the field: `tasks.0.env: Field required`."""
    lines = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part != "body"]
        if error.get("type") == "json_invalid":  # its loc holds a character position, no field
            lines.append(f"body: not valid JSON (at character {'.'.join(loc) or 0})")
            continue
        lines.append(f"{'.'.join(loc) or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(lines)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg"), "type": error.get("type")}
        for error in exc.errors()
    ]
    return OrjsonResponse({"error": field_errors(errors), "detail": errors}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return OrjsonResponse(
        {"error": str(exc.detail), "detail": exc.detail},
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error in %s %s", request.method, request.url.path)
    request.app.state.metrics.count_failure("internal_error")
    message = redact(f"internal error: {type(exc).__name__}: {exc}")
    return OrjsonResponse({"error": message, "detail": message}, status_code=500)


class _MetricsMiddleware:
    """Counts requests by route template and status, times them, tracks in-flight."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless an answer starts, or the handler ends without one (a hang-up)
        started = time.perf_counter()

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight += 1
        try:
            await self.app(scope, receive, send_and_record)
            if status == 500 and scope.get(HUNG_UP_KEY):
                status = CLIENT_CLOSED_STATUS
        finally:
            self.metrics.in_flight -= 1
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe_request(
                scope["method"], route, status, time.perf_counter() - started
            )


class _CancelOnHangUp:
    """Cancels a request's handler as soon as its client hangs up before the answer is sent.

    Uvicorn only tells an app of a hang-up by answering `receive()` with `http.disconnect`,
    which a handler that has read its body never calls again: without this, a generation, tool
    call or verification whose caller is gone (timed out, cancelled) runs to its own timeout,
    holding its engine slot, session or CPU worker. Cancelling reaches every call the handler
    awaits; an outgoing aiohttp request that is cancelled closes its connection, so the
    service behind it sees the hang-up in turn (vLLM aborts such a request).

    The body is read here first. A handler still running after `WATCH_AFTER_S` gets a watcher
    that waits for the hang-up (most answers come sooner, and so cost no watcher); the
    handler's own later `receive()` calls (a streaming response listens) wait on it too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = await _read_body(receive)
        handler = asyncio.current_task()
        assert handler is not None
        loop = asyncio.get_running_loop()
        answered = False
        hung_up = False
        watcher: asyncio.Task[bool] | None = None

        async def watch() -> bool:
            """True once the client is gone; False when the server cannot tell."""
            nonlocal hung_up
            try:
                while (await receive())["type"] != "http.disconnect":
                    pass
            except Exception:  # Ray Serve's receive may raise: no hang-up to act on
                return False
            if not answered:
                hung_up = True
                handler.cancel()
            return True

        def start_watching() -> asyncio.Task[bool]:
            nonlocal watcher
            if watcher is None:
                watcher = loop.create_task(watch())
            return watcher

        timer = loop.call_later(WATCH_AFTER_S, start_watching)
        replay = iter(chunks)

        async def replayed() -> Message:
            chunk = next(replay, None)
            if chunk is not None:
                return chunk
            if not await asyncio.shield(start_watching()):
                await asyncio.Event().wait()  # no hang-up will ever be known
            return {"type": "http.disconnect"}

        async def send_and_watch(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered = True
            await send(message)

        try:
            await self.app(scope, replayed, send_and_watch)
        except asyncio.CancelledError:
            if not hung_up or handler.uncancel() > 0:
                raise  # cancelled by someone else too (the server is stopping)
            scope[HUNG_UP_KEY] = True
        finally:
            timer.cancel()
            if watcher is not None:
                watcher.cancel()


async def _read_body(receive: Receive) -> list[Message]:
    """Every message of the request's body, as received."""
    chunks: list[Message] = []
    more = True
    while more:
        message = await receive()
        chunks.append(message)
        more = message["type"] == "http.request" and message.get("more_body", False)
    return chunks


class _StrictJsonMiddleware:
    """422 for a JSON body holding a lone UTF-16 surrogate (`"\\ud800"`): Python's JSON reader
    accepts it, but it is no Unicode text, and every later encoder (pydantic, orjson, the
    response) would fail on it as a 500. Only bodies with a `\\u` escape are looked at."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        chunks = await _read_body(receive)
        body = b"".join(chunk.get("body", b"") for chunk in chunks)
        if b"\\u" in body and _lone_surrogate(body):
            message_text = "body: a string holds a lone UTF-16 surrogate, which is not Unicode text"
            problem = {"loc": ["body"], "msg": message_text, "type": "unicode"}
            response = OrjsonResponse({"error": message_text, "detail": [problem]}, status_code=422)
            await response(scope, receive, send)
            return
        replay = iter(chunks)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)


def _lone_surrogate(body: bytes) -> bool:
    """orjson refuses lone surrogates where the standard library takes them."""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            json.loads(body)
        except ValueError:
            return False  # not JSON at all: the route says so itself
        return True
    return False


class _TokenMiddleware:
    """Requires `Authorization: Bearer TOKEN` on every path but `OPEN_PATHS`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                response = OrjsonResponse(
                    {"error": "missing or wrong bearer token (header Authorization)"},
                    status_code=401,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _HostMiddleware:
    """421 for a request whose `Host` names none of `allowed` (checked on loopback binds).

    The few `Host` values a service sees are remembered once approved, so that the check costs
    a set lookup per request.
    """

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed
        self._approved: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = next((value for name, value in scope["headers"] if name == b"host"), b"")
            if raw not in self._approved:
                host = _host_name(raw.decode("latin-1"))
                if host not in self.allowed:
                    message = (
                        f"Host {host!r} is not this server: a service bound to loopback answers "
                        f"only requests addressed to {', '.join(sorted(self.allowed))}"
                    )
                    response = OrjsonResponse(
                        {"error": message, "detail": message}, status_code=421
                    )
                    await response(scope, receive, send)
                    return
                if len(self._approved) < MAX_APPROVED_HOSTS:
                    self._approved.add(raw)
        await self.app(scope, receive, send)


def _host_name(header: str) -> str:
    """The name in a `Host` header, without its port: `[::1]:80` -> `::1`."""
    header = header.lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if header.count(":") == 1 else header


def loopback_hosts(sockets: Sequence[socket.socket]) -> frozenset[str] | None:
    """The host names a service on `sockets` answers to, or None (any) when one of them is
    reachable from other machines."""
    names = set(LOOPBACK_NAMES)
    for sock in sockets:
        address = str(sock.getsockname()[0])
        try:
            if not ipaddress.ip_address(address).is_loopback:
                return None
        except ValueError:
            return None
        names.add(address)
    return frozenset(names)


def serve(app: ASGIApp, sockets: list[socket.socket], *, log_level: str = "warning") -> None:
    """Run `app` on already-bound sockets until SIGINT or SIGTERM; on loopback sockets, only
    for requests whose `Host` is a loopback name."""
    # Everything built so far (modules, the app) lives as long as the process: keep it out of
    # the garbage collector's way, so collections only walk what requests allocate. A service
    # forked while its launcher paused collection (`gym_core.imports.gc_paused`) resumes it.
    gc.freeze()
    gc.enable()
    server_for(app, sockets, log_level=log_level).run(sockets=sockets)


def server_for(
    app: ASGIApp,
    sockets: list[socket.socket],
    *,
    log_level: str = "warning",
    lifespan: LifespanType = "auto",
) -> uvicorn.Server:
    """The uvicorn server of `app` on `sockets` (not started); on loopback sockets it answers
    only requests whose `Host` is a loopback name. `lifespan="off"` when something else runs
    the app's startup and shutdown (Ray Serve, on a cluster replica)."""
    allowed = loopback_hosts(sockets)
    if allowed is not None:
        app = _HostMiddleware(app, allowed)
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        ws="none",  # no service speaks WebSocket; "auto" would import a WebSocket library
        lifespan=lifespan,
        timeout_keep_alive=SERVER_KEEPALIVE_S,
        timeout_graceful_shutdown=5,
        backlog=LISTEN_BACKLOG,
    )
    return uvicorn.Server(config)
