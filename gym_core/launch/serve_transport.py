"""The transport for `serve://APP/path` URLs: a Ray Serve deployment handle, no HTTP proxy.

A call goes straight to a replica of application APP (whose one deployment carries the same
name), which runs it against its app in-process (`gym_core.asgi_call`). Ray's failures map to
the transport outcomes `HttpClient` turns into the same errors as over HTTP:

- no replica could take the request (the deployment is gone or its queue is full): nothing
  was sent, `CannotConnect`;
- the replica died while it held the request, or Ray lost the call: `ExchangeBroken`, which
  a caller reads as `replica_lost`;
- no answer in time, or the caller cancelled: the call is cancelled on the replica too.

Imported only by processes that call `serve://` URLs, which run on a Ray cluster.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from multidict import CIMultiDict
from ray.exceptions import RayError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentHandle

from gym_core.asgi_call import RawHeaders
from gym_core.transport import SERVE_SCHEME, CannotConnect, ExchangeBroken, Reply

__all__ = ["ASGI_METHOD", "ServeTransport"]

ASGI_METHOD = "asgi"
"""The replica method that runs a request against its app (`ServiceReplica.asgi`)."""


class ServeTransport:
    """Sends requests to Serve applications of this cluster through deployment handles."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.headers: RawHeaders = _raw(headers)
        self._handles: dict[str, DeploymentHandle] = {}

    async def send(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        timeout_s: float | None,
    ) -> Reply:
        app, slash, path = url.removeprefix(SERVE_SCHEME).partition("/")
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

    def _handle(self, app: str) -> DeploymentHandle:
        handle = self._handles.get(app)
        if handle is None:
            handle = DeploymentHandle(app, app).options(method_name=ASGI_METHOD)
            self._handles[app] = handle
        return handle


def _raw(headers: Mapping[str, str]) -> RawHeaders:
    return [(key.lower().encode(), value.encode()) for key, value in headers.items()]
