"""The transport for `serve://APP/path` URLs: plain HTTP straight to a replica of APP, or a
Ray Serve deployment handle; never Serve's HTTP proxy.

Each replica also serves its app over HTTP and announces where (`replica_addresses`): a call
goes there over the pooled aiohttp connections the local launcher uses, to the replicas of APP
in turn, as cheaply as between local services. The addresses are asked for again every
`REFRESH_S` (new replicas join), and one that refuses a connection is dropped at once: the
call raises `CannotConnect`, which `HttpClient` retries on another.

Until an application has announced an address, a call goes through a deployment handle to a
replica (whose one deployment carries the application's name), which runs it against its app
in-process (`gym_core.asgi_call`). Ray's failures map to the transport outcomes `HttpClient`
turns into the same errors as over HTTP:

- no replica could take the request (the deployment is gone or its queue is full): nothing
  was sent, `CannotConnect`;
- the replica died while it held the request, or Ray lost the call: `ExchangeBroken`, which
  a caller reads as `replica_lost`;
- no answer in time, or the caller cancelled: the call is cancelled on the replica too.

Imported only by processes that call `serve://` URLs, which run on a Ray cluster.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator, Mapping
from typing import Any

import ray
from multidict import CIMultiDict
from ray.exceptions import RayError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentHandle

from gym_core.asgi_call import RawHeaders
from gym_core.launch.replica_addresses import registry
from gym_core.transport import SERVE_SCHEME, CannotConnect, ExchangeBroken, HttpTransport, Reply

__all__ = ["ASGI_METHOD", "ServeTransport"]

ASGI_METHOD = "asgi"
"""The replica method that runs a request against its app (`ServiceReplica.asgi`)."""
REFRESH_S = 5.0


class _Replicas:
    """The known addresses of one application's replicas, taken in turn."""

    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.asked_at = float("-inf")
        self._turns: Iterator[str] = iter(())

    def update(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self._turns = itertools.cycle(addresses)

    def next(self) -> str | None:
        return next(self._turns, None)


class ServeTransport:
    """Sends requests to Serve applications of this cluster: over `http` to their replicas'
    own addresses, or through deployment handles."""

    def __init__(self, http: HttpTransport) -> None:
        self.http = http
        self.headers: RawHeaders = _raw(http.headers)
        self._handles: dict[str, DeploymentHandle] = {}
        self._replicas: dict[str, _Replicas] = {}
        self._registry: Any = None

    async def send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        timeout_s: float | None,
    ) -> Reply:
        app, slash, path = url.removeprefix(SERVE_SCHEME).partition("/")
        address = await self._address(app)
        if address is not None:
            try:
                return await self.http.send(
                    method, address + slash + path, body, headers, timeout_s
                )
            except CannotConnect:
                self._forget(app, address)
                raise
        raw = self.headers + _raw(headers) if headers else self.headers
        response = self._handle(app).remote(method, slash + path, raw, body or b"")
        try:
            async with asyncio.timeout(timeout_s):
                status, answer_headers, payload = await response
        except (TimeoutError, asyncio.CancelledError):
            response.cancel()
            raise
        except (BackPressureError, DeploymentUnavailableError) as error:
            raise CannotConnect(f"no replica of {app} takes requests: {error}") from None
        except RayError as error:
            raise ExchangeBroken(f"the call to {app} was lost: {type(error).__name__}") from None
        decoded = CIMultiDict((key.decode(), value.decode()) for key, value in answer_headers)
        return Reply(status, decoded, payload)

    async def close(self) -> None:
        self._handles.clear()
        self._replicas.clear()

    async def _address(self, app: str) -> str | None:
        """The next replica of `app` to call, asking the registry when the list is old."""
        replicas = self._replicas.setdefault(app, _Replicas())
        now = time.monotonic()
        if now - replicas.asked_at > REFRESH_S:
            replicas.asked_at = now  # the others use the old list meanwhile
            try:
                if self._registry is None:
                    self._registry = registry()
                node = ray.util.get_node_ip_address()
                replicas.update(await self._registry.addresses.remote(app, node))
            except RayError:
                replicas.update([])  # through the handles until it answers again
        return replicas.next()

    def _forget(self, app: str, address: str) -> None:
        replicas = self._replicas[app]
        replicas.update([a for a in replicas.addresses if a != address])
        if self._registry is not None:
            self._registry.drop.remote(app, address)

    def _handle(self, app: str) -> DeploymentHandle:
        handle = self._handles.get(app)
        if handle is None:
            handle = DeploymentHandle(app, app).options(method_name=ASGI_METHOD)
            self._handles[app] = handle
        return handle


def _raw(headers: Mapping[str, str]) -> RawHeaders:
    return [(key.lower().encode(), value.encode()) for key, value in headers.items()]
