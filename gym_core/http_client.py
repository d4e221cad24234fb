"""The one HTTP client every RL Gym process uses to talk to other services.

Every call has a timeout. Retries are counted and back off exponentially with jitter, and they
happen only where a retry cannot run the request twice: a connection that could not be opened
(refused, or not accepted within the connect timeout, as when thousands connect at once),
an answer of 502/503/504 (the service or a proxy in front of it did not take the request) unless
the service marks it `X-Processed` (it did the work, and failed), or, for GET and DELETE, a
kept-alive connection the server had closed.

A busy service answers 429 or 503 with `Retry-After` (the agent server does when its queue is
full): such an answer is waited out and asked again, without counting as a retry, for up to
`max_busy_wait_s` in all (0 by default; the rollout client waits as long as its own timeout).
"""

from __future__ import annotations

import asyncio
import enum
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from gym_core.errors import (
    ServiceDisconnected,
    ServiceFailed,
    ServiceRejected,
    ServiceTimeout,
    ServiceUnavailable,
)
from gym_core.transport import (
    SERVE_SCHEME,
    CannotConnect,
    ConnectionClosed,
    ExchangeBroken,
    HttpTransport,
    Reply,
    Transport,
)

__all__ = [
    "CLIENT_DEFAULT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT_S",
    "PROCESSED_HEADER",
    "HttpClient",
]

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_CONNECT_TIMEOUT_S = 30.0
"""Measured on the caller's event loop, which lags seconds behind when thousands of episodes
start at once on a small machine (5 s failed most of 4,096 such episodes); a refused
connection fails at once whatever the bound."""
DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF_S = 0.05
MAX_BACKOFF_S = 2.0
DEFAULT_MAX_CONNECTIONS = 1024
RETRYABLE_STATUSES = frozenset({502, 503, 504})
BUSY_STATUSES = frozenset({429, 503})
MAX_RETRY_AFTER_S = 60.0
"""A `Retry-After` longer than this is waited only this long, then asked again."""
RETRY_AFTER_JITTER = 0.5
"""Up to this share of `Retry-After` is added at random, so that clients told the same
wait do not all come back at once."""
IDEMPOTENT_METHODS = frozenset({"GET", "DELETE"})
PROCESSED_HEADER = "X-Processed"
"""On a 503 (or 502, 504): the service ran the request, so sending it again repeats the work."""


class _Default(enum.Enum):
    CLIENT = enum.auto()


CLIENT_DEFAULT = _Default.CLIENT
"""Use the timeout the client was made with."""
Timeout = float | None | _Default


class HttpClient:
    """Pooled connections with timeouts, bounded retries and typed errors.

    Create one per process (or per service app) and pass it to whatever needs it; close it on
    shutdown. `http(s)://` URLs go over pooled aiohttp connections, made on first use inside
    the running event loop; `serve://APP` URLs to a replica of APP on the Ray cluster
    (`gym_core.transport`).
    """

    def __init__(
        self,
        *,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_busy_wait_s: float = 0.0,
        token: str | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_busy_wait_s = max_busy_wait_s
        self.connect_timeout_s = connect_timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        # Answers are read as they come (auto_decompress is off, for speed), so ask for none
        # compressed: aiohttp would otherwise offer gzip and deflate.
        headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = HttpTransport(headers, max_connections, connect_timeout_s)
        self._serve: Transport | None = None

    def _transport(self, url: str) -> Transport:
        if not url.startswith(SERVE_SCHEME):
            return self._http
        if self._serve is None:
            from gym_core.launch.serve_transport import ServeTransport  # imports ray

            self._serve = ServeTransport(self._http)
        return self._serve

    async def close(self) -> None:
        await self._http.close()
        if self._serve is not None:
            await self._serve.close()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def get(self, url: str, *, timeout_s: Timeout = CLIENT_DEFAULT) -> Any:
        return await self.request("GET", url, timeout_s=timeout_s)

    async def post(
        self,
        url: str,
        body: Any = None,
        *,
        timeout_s: Timeout = CLIENT_DEFAULT,
        headers: dict[str, str] | None = None,
    ) -> Any:
        return await self.request("POST", url, body, timeout_s=timeout_s, headers=headers)

    async def delete(self, url: str, *, timeout_s: Timeout = CLIENT_DEFAULT) -> Any:
        return await self.request("DELETE", url, timeout_s=timeout_s)

    async def request(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        timeout_s: Timeout = CLIENT_DEFAULT,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send `body` as JSON (bytes are sent as they are) and return the decoded answer.

        `timeout_s` bounds each attempt; pass `None` explicitly for no bound.
        """
        payload = await self.request_bytes(method, url, body, timeout_s=timeout_s, headers=headers)
        if not payload:
            return None
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise ServiceFailed(url, 200, "the answer is not JSON") from None

    async def request_bytes(
        self,
        method: str,
        url: str,
        body: Any = None,
        *,
        timeout_s: Timeout = CLIENT_DEFAULT,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        """Like `request`, but the successful answer's body is returned undecoded, for callers
        that validate JSON straight into a model (pydantic's `model_validate_json`)."""
        data = _encode(body)
        total_s = self.timeout_s if timeout_s is CLIENT_DEFAULT else timeout_s
        transport = self._transport(url)
        busy = _BusyWait(self.max_busy_wait_s)
        attempt = 0
        while True:
            try:
                reply = await transport.send(method, url, data, headers, total_s)
            except CannotConnect as error:
                retry_reason = f"cannot connect ({error})"
            except ConnectionClosed as error:
                if method not in IDEMPOTENT_METHODS:
                    raise ServiceDisconnected(url, str(error)) from None
                retry_reason = str(error)
            except TimeoutError:
                raise ServiceTimeout(url, f"no answer within {total_s}s") from None
            except ExchangeBroken as error:
                raise ServiceDisconnected(url, str(error)) from None
            else:
                if reply.status < 400:
                    return reply.body
                wait_s = busy.wait_for(reply)
                if wait_s is not None:
                    await asyncio.sleep(wait_s)
                    continue
                if reply.status not in RETRYABLE_STATUSES or PROCESSED_HEADER in reply.headers:
                    raise _error(url, reply.status, reply.body)
                detail, message = _reason(reply.body)
                retry_reason = f"HTTP {reply.status}: {message or detail}"
            if attempt == self.max_retries:
                raise ServiceUnavailable(
                    url, f"{retry_reason} (after {self.max_retries + 1} attempts)"
                )
            await asyncio.sleep(self._backoff(attempt))
            attempt += 1

    async def stream_lines(
        self, url: str, body: Any, *, idle_timeout_s: Timeout = CLIENT_DEFAULT
    ) -> AsyncIterator[bytes]:
        """POST `body` and yield each non-empty line of the answer as it arrives.

        The timeout bounds the wait for each line, not the whole stream. Connection failures
        are retried as in `request`, but never once a line has been read. Over HTTP only: no
        call between services streams.
        """
        idle = self.timeout_s if idle_timeout_s is CLIENT_DEFAULT else idle_timeout_s
        timeout = aiohttp.ClientTimeout(total=None, connect=self.connect_timeout_s, sock_read=idle)
        data = _encode(body)
        busy = _BusyWait(self.max_busy_wait_s)
        attempt = 0
        while True:
            try:
                response = await self._http.session().post(url, data=data, timeout=timeout)
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
                if attempt == self.max_retries:
                    raise ServiceUnavailable(url, f"cannot connect ({error})") from None
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1
                continue
            async with response:
                wait_s = busy.wait_for(response)
                if wait_s is None:
                    if response.status >= 400:
                        raise _error(url, response.status, await response.read())
                    try:
                        async for line in response.content:
                            if line.strip():
                                yield line
                    except TimeoutError:
                        raise ServiceTimeout(url, f"no line within {idle}s") from None
                    except aiohttp.ClientError as error:
                        raise ServiceDisconnected(url, f"stream broke: {error}") from None
                    return
            await asyncio.sleep(wait_s)

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(MAX_BACKOFF_S, self.backoff_s * 2**attempt))


class _BusyWait:
    """How long to wait before asking a busy service again, within one call's budget."""

    def __init__(self, budget_s: float) -> None:
        self.left_s = budget_s

    def wait_for(self, response: aiohttp.ClientResponse | Reply) -> float | None:
        """The wait a 429/503 with `Retry-After` asks for, or None: not busy, processed, or
        the budget is spent."""
        if (
            response.status not in BUSY_STATUSES
            or PROCESSED_HEADER in response.headers
            or self.left_s <= 0
        ):
            return None
        try:
            asked = float(response.headers.get("Retry-After", ""))
        except ValueError:
            return None  # absent, or an HTTP date: treated as any 503
        wait_s = min(max(asked, 0.0), MAX_RETRY_AFTER_S) * (
            1 + random.random() * RETRY_AFTER_JITTER
        )
        if wait_s > self.left_s:
            return None
        self.left_s -= wait_s
        return wait_s


def _encode(body: Any) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    return orjson.dumps(body)


def _reason(payload: bytes) -> tuple[Any, str | None]:
    """An error body's structured `detail` (FastAPI's) and its one-line `error`, if any."""
    try:
        decoded = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload.decode(errors="replace")[:500], None
    if isinstance(decoded, dict):
        error = decoded.get("error")
        return decoded.get("detail", error or decoded), error if isinstance(error, str) else None
    return decoded, None


def _error(url: str, status: int, payload: bytes) -> ServiceFailed | ServiceRejected:
    if status >= 500:
        return ServiceFailed(url, status, *_reason(payload))
    return ServiceRejected(url, status, *_reason(payload))
