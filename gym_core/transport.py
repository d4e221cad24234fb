"""How one HTTP exchange reaches a service: over a socket (aiohttp), or over a Ray Serve handle.

`HttpClient` owns the policy (timeouts, retries, busy waits, typed errors); a transport only
sends one request and says how it went, in three ways that decide whether it may be sent again:

- it returns a `Reply` (any status);
- it raises `CannotConnect` when nothing was sent (safe to send again), `ConnectionClosed` when a
  kept-alive connection was closed under the request (safe again for GET and DELETE only), or
  `ExchangeBroken` when the exchange broke once the service had it (never sent again);
- it raises `TimeoutError` when the answer did not come within the time given.

A URL's scheme picks the transport: `http(s)://` a socket, `serve://APP` a replica of the
application APP on the Ray cluster this process runs in (`gym_core.launch.serve_transport`,
which imports Ray, and sends over a socket too once it knows the replicas' addresses).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import NamedTuple, Protocol

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "SERVE_SCHEME",
    "CannotConnect",
    "ConnectionClosed",
    "ExchangeBroken",
    "HttpTransport",
    "Reply",
    "Transport",
]

SERVE_SCHEME = "serve://"
KEEPALIVE_S = 30.0
"""Shorter than the servers' keep-alive (see `gym_core.service`), so a pooled connection is
never reused just as the server closes it."""

Headers = CIMultiDictProxy[str] | CIMultiDict[str]


class Reply(NamedTuple):
    """A service's answer, whatever its status."""

    status: int
    headers: Headers
    body: bytes


class CannotConnect(Exception):
    """Nothing was sent: the service could not be reached."""


class ConnectionClosed(Exception):
    """A kept-alive connection was closed as the request went out: it may have arrived."""


class ExchangeBroken(Exception):
    """The exchange broke once the service had the request: it may have run part of it."""


class Transport(Protocol):
    """Sends one request; see the module docstring for what each outcome means."""

    async def send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        timeout_s: float | None,
    ) -> Reply: ...

    async def close(self) -> None: ...


class HttpTransport:
    """A pooled aiohttp session, made on first use inside the running event loop."""

    def __init__(
        self, headers: Mapping[str, str], max_connections: int, connect_timeout_s: float
    ) -> None:
        self.headers = dict(headers)
        self.max_connections = max_connections
        self.connect_timeout_s = connect_timeout_s
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections, keepalive_timeout=KEEPALIVE_S
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self.headers,
                cookie_jar=aiohttp.DummyCookieJar(),  # services speak JSON, never cookies
                auto_decompress=False,
            )
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        timeout_s: float | None,
    ) -> Reply:
        timeout = client_timeout(timeout_s, self.connect_timeout_s)
        try:
            async with self.session().request(
                method, url, data=body, timeout=timeout, headers=headers
            ) as response:
                return Reply(response.status, response.headers, await response.read())
        except aiohttp.ClientConnectorError as error:
            raise CannotConnect(error.os_error.strerror or str(error)) from None
        except aiohttp.ConnectionTimeoutError:
            raise CannotConnect(f"no connection within {timeout.connect:g}s") from None
        except aiohttp.ServerDisconnectedError:
            raise ConnectionClosed("the server closed the connection") from None
        except aiohttp.ClientError as error:
            raise ExchangeBroken(f"{type(error).__name__}: {error}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@functools.lru_cache(maxsize=64)
def client_timeout(total_s: float | None, connect_s: float) -> aiohttp.ClientTimeout:
    """Timeouts are immutable; making one per request shows up in profiles."""
    return aiohttp.ClientTimeout(total=total_s, connect=connect_s)
