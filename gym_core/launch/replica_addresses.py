"""Where each service replica of a cluster answers plain HTTP, so services call each other
directly instead of through Ray.

Every replica also serves its app with uvicorn on an ephemeral port of its node and says so to
one named actor (`ReplicaAddresses`) every `HEARTBEAT_S`; an address not heard from for
`STALE_S` is forgotten, and a caller that cannot connect to one has it dropped at once. Ray
Serve still decides how many replicas run and where: this only tells callers where they
listen. Imported only on the cluster's processes (it imports Ray).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import ray

from gym_core.launch.ray_cluster import NAMESPACE
from gym_core.service import LISTEN_BACKLOG, server_for

__all__ = [
    "HEARTBEAT_S",
    "REGISTRY_NAME",
    "DirectServer",
    "ReplicaAddresses",
    "registry",
]

REGISTRY_NAME = "gym-replica-addresses"
HEARTBEAT_S = 5.0
GRACEFUL_S = 5.0
STALE_S = 3 * HEARTBEAT_S
"""A replica that died without a word is forgotten after missing this many heartbeats."""

log = logging.getLogger("rl_gym")


class ReplicaAddresses:
    """The `http://HOST:PORT` of each live replica, by application name."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._seen: dict[str, dict[str, tuple[str, float]]] = {}

    def register(self, app: str, address: str, node: str) -> None:
        self._seen.setdefault(app, {})[address] = (node, self.clock())

    def drop(self, app: str, address: str) -> None:
        self._seen.get(app, {}).pop(address, None)

    def addresses(self, app: str, node: str) -> list[str]:
        """The live addresses of `app` a caller on `node` can reach: a loopback address only
        from its own node."""
        fresh = self.clock() - STALE_S
        seen = self._seen.get(app, {})
        for address in [a for a, (_, at) in seen.items() if at < fresh]:
            del seen[address]
        return [a for a, (n, _) in seen.items() if n == node or not _loopback(a)]


def registry() -> Any:
    """The registry actor of this cluster; the first process to ask creates it."""
    return (
        ray.remote(ReplicaAddresses)
        .options(
            name=REGISTRY_NAME,
            namespace=NAMESPACE,
            get_if_exists=True,
            lifetime="detached",  # it outlives any one replica
            num_cpus=0,
            max_restarts=-1,  # a new one fills up again within a heartbeat
        )
        .remote()
    )


class DirectServer:
    """A replica's app served over HTTP on an ephemeral port of its node (of loopback, when
    `loopback`), announced until closed."""

    def __init__(self, app: Any, name: str, loopback: bool) -> None:
        self.name = name
        self.node = ray.util.get_node_ip_address()
        host = "127.0.0.1" if loopback else self.node
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family)
        self._sock.bind((host, 0))
        port = self._sock.getsockname()[1]
        self.address = f"http://{f'[{host}]' if ':' in host else host}:{port}"
        self._server = server_for(app, [self._sock], lifespan="off")
        self._serving: asyncio.Task[None] | None = None
        self._announcing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve on the running event loop, and announce: once at once (so that a replica
        is listed when Serve counts it as running), then every `HEARTBEAT_S`."""
        self._sock.listen(LISTEN_BACKLOG)  # connections wait for uvicorn from now on
        # `_serve`: `serve` would take the replica's SIGINT and SIGTERM from Ray.
        self._serving = asyncio.create_task(self._server._serve(sockets=[self._sock]))
        await self._announce_once()
        self._announcing = asyncio.create_task(self._announce())

    def serving(self) -> bool:
        return self._serving is not None and not self._serving.done()

    async def close(self) -> None:
        """Stop announcing, be forgotten, then finish the requests in flight."""
        if self._announcing is not None:
            self._announcing.cancel()
        with contextlib.suppress(ray.exceptions.RayError):
            await registry().drop.remote(self.name, self.address)
        self._server.should_exit = True
        if self._serving is not None:
            await asyncio.wait([self._serving], timeout=GRACEFUL_S)

    async def _announce_once(self) -> None:
        try:
            await registry().register.remote(self.name, self.address, self.node)
        except ray.exceptions.RayError as error:
            log.warning("cannot announce %s at %s: %s", self.name, self.address, error)

    async def _announce(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            await self._announce_once()


def _loopback(address: str) -> bool:
    host = address.removeprefix("http://").rpartition(":")[0].strip("[]")
    return ipaddress.ip_address(host).is_loopback
