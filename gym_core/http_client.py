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
import functools
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
KEEPALIVE_S = 30.0
"""Shorter than the servers' keep-alive (see `gym_core.service`), so a pooled connection is
never reused just as the server closes it."""
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
    """A pooled aiohttp session with timeouts, bounded retries and typed errors.

    Create one per process (or per service app) and pass it to whatever needs it; close it on
    shutdown. The aiohttp session is made on first use, inside the running event loop.
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
        self.max_connections = max_connections
        # Answers are read as they come (auto_decompress is off, for speed), so ask for none
        # compressed: aiohttp would otherwise offer gzip and deflate.
        self._headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session: aiohttp.ClientSession | None = None

    def _client_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections, keepalive_timeout=KEEPALIVE_S
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                json_serialize=_dumps_text,
                cookie_jar=aiohttp.DummyCookieJar(),  # services speak JSON, never cookies
                auto_decompress=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        timeout = self._timeout(self.timeout_s if timeout_s is CLIENT_DEFAULT else timeout_s)
        busy = _BusyWait(self.max_busy_wait_s)
        attempt = 0
        while True:
            retry_reason = ""
            wait_s: float | None = None
            try:
                async with self._client_session().request(
                    method, url, data=data, timeout=timeout, headers=headers
                ) as response:
                    payload = await response.read()
                    if response.status < 400:
                        return payload
                    wait_s = busy.wait_for(response)
                    if wait_s is None and (
                        response.status not in RETRYABLE_STATUSES
                        or PROCESSED_HEADER in response.headers
                    ):
                        raise _error(url, response.status, payload)
                    detail, message = _reason(payload)
                    retry_reason = f"HTTP {response.status}: {message or detail}"
            except aiohttp.ClientConnectorError as error:
                retry_reason = f"cannot connect ({error.os_error.strerror or error})"
            except aiohttp.ConnectionTimeoutError:  # nothing was sent: safe to send again
                retry_reason = f"cannot connect (no connection within {timeout.connect:g}s)"
            except aiohttp.ServerDisconnectedError:
                if method not in IDEMPOTENT_METHODS:
                    raise ServiceDisconnected(url, "the server closed the connection") from None
                retry_reason = "the server closed the connection"
            except TimeoutError:
                raise ServiceTimeout(url, f"no answer within {timeout.total}s") from None
            except aiohttp.ClientError as error:  # the exchange broke once connected
                raise ServiceDisconnected(url, f"{type(error).__name__}: {error}") from None
            if wait_s is not None:
                await asyncio.sleep(wait_s)
                continue
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
        are retried as in `request`, but never once a line has been read.
        """
        idle = self.timeout_s if idle_timeout_s is CLIENT_DEFAULT else idle_timeout_s
        timeout = aiohttp.ClientTimeout(total=None, connect=self.connect_timeout_s, sock_read=idle)
        data = _encode(body)
        busy = _BusyWait(self.max_busy_wait_s)
        attempt = 0
        while True:
            try:
                response = await self._client_session().post(url, data=data, timeout=timeout)
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

    def _timeout(self, total_s: float | None) -> aiohttp.ClientTimeout:
        return _client_timeout(total_s, self.connect_timeout_s)

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(MAX_BACKOFF_S, self.backoff_s * 2**attempt))


class _BusyWait:
    """How long to wait before asking a busy service again, within one call's budget."""

    def __init__(self, budget_s: float) -> None:
        self.left_s = budget_s

    def wait_for(self, response: aiohttp.ClientResponse) -> float | None:
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


@functools.lru_cache(maxsize=64)
def _client_timeout(total_s: float | None, connect_s: float) -> aiohttp.ClientTimeout:
    """Timeouts are immutable; making one per request shows up in profiles."""
    return aiohttp.ClientTimeout(total=total_s, connect=connect_s)


def _dumps_text(value: Any) -> str:
    return orjson.dumps(value).decode()


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
