"""The cluster launcher: each service of a plan as a Ray Serve application.

    gym serve math,code --cluster auto

Every service of the plan (the policy server, one resources server per environment, the agent
server) becomes a Serve application of one deployment. Its replicas build the service's app
with the same factory and settings the local launcher's processes use, on the replica. All of
them answer through Serve's HTTP proxy at one address, under route prefixes (`/` the agent
server, `/policy` the policy server, `/env/NAME` each environment): that is the edge a trainer
talks to. Between themselves the services skip the proxy and Ray: each replica also serves its
app on a port of its own and announces it (`replica_addresses`), and the agent server reaches
the others at `serve://APP` URLs, which its HTTP client sends straight to those ports (through
a deployment handle, `ServiceReplica.asgi`, until APP has announced one). The services speak
the same HTTP either way, so they never learn which launcher runs them.

Differences from local, each for a reason:
- an environment's sessions live in shared shard actors (`SessionShards`), so a request may
  go to any replica and a replica that dies loses none of them;
- a resources replica's CPU worker pool has as many workers as CPUs Ray reserved for it,
  so verification and sandboxed runs spread over the nodes with the replicas;
- the policy server runs one replica: it keeps the policy version, the pause gate and the
  sticky map in its process, and scales through the engines behind it.

Ray is imported here only, and only when this launcher starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp

from gym_core.asgi_call import RawHeaders, RawReply, call_app
from gym_core.config import GymConfig
from gym_core.errors import ConfigError, ServiceError
from gym_core.http_client import HttpClient
from gym_core.launch.local import LaunchError, Running
from gym_core.launch.plan import (
    AGENT,
    POLICY,
    ServiceSpec,
    build_app,
    env_service_name,
    plan_services,
    service_names,
)
from gym_core.service import SERVER_KEEPALIVE_S
from gym_core.settings import ReplicaSettings, ResourcesServerSettings, SessionShards
from gym_core.transport import SERVE_SCHEME

if TYPE_CHECKING:
    from gym_core.launch.replica_addresses import DirectServer

__all__ = [
    "NAMESPACE",
    "RayLauncher",
    "ServiceReplica",
    "cluster_specs",
    "deployment_options",
    "handle_url",
    "replica_settings",
    "route_prefix",
]

RAY_UV_PROPAGATION = "RAY_ENABLE_UV_RUN_RUNTIME_ENV"
"""Ray reads it when it is first imported."""

NAMESPACE = "rl_gym"
"""The Ray namespace of the session shards."""
APP_PREFIX = "gym-"
"""Serve application names are cluster-wide: ours are `gym-agent`, `gym-env-math`, ..."""
MAX_SESSION_SHARDS = 8
REPLICAS_PER_SHARD = 4
"""One shard actor answers a few replicas: batches grow with the replicas a shard serves, and
a shard's batched call costs far less than one call per replica."""
HEALTH_POLL_S = 0.25
STOP_TIMEOUT_S = 30.0
GRACEFUL_SHUTDOWN_S = 5.0
CLUSTER_EXIT_S = 3.0
CONSTRUCTOR_RETRIES = 3
"""A replica whose app cannot be built fails the deployment after this many tries: the
settings were checked before anything started, so a failure here is not transient."""
QUIET = {"enable_access_log": False}
"""A log line per request costs the proxy and the replicas more than the request itself;
our services count requests in their own `/metrics`."""
SERVE_TUNING = {
    "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
    "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "0",
}
"""Ray Serve's own throughput settings (part of `RAY_SERVE_THROUGHPUT_OPTIMIZED`), for the
replicas: our services never block their event loop, so the app, Ray's request handling and
the handles' router can share it, saving a thread hop on each call (about 10% of the CPU per
rollout here)."""
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ServiceReplica:
    """One replica of a service: it builds the service's app from its spec, on the replica,
    and serves it to the other services over plain HTTP as well: on loopback when the proxy
    listens there (`loopback`), else on its node's address.

    Ray Serve calls `__serve_build_asgi_app__` once the replica's process is up, so the app,
    its clients and its worker pools are made where they run, never pickled; and
    `check_health` first once the app has started, which is when the direct server opens
    (and then every few seconds: a replica whose direct server stopped is replaced).
    """

    def __init__(self, spec: dict[str, Any], loopback: bool) -> None:
        self.spec = ServiceSpec.model_validate(spec)
        self.loopback = loopback
        self._app: ASGIApp | None = None
        self._direct: DirectServer | None = None

    def __serve_build_asgi_app__(self) -> ASGIApp:
        self._app = build_app(self.spec)
        return self._app

    async def check_health(self) -> None:
        if self._direct is None and self._app is not None:
            from gym_core.launch.replica_addresses import DirectServer  # imports ray

            self._direct = DirectServer(self._app, APP_PREFIX + self.spec.name, self.loopback)
            await self._direct.start()
        elif self._direct is not None and not self._direct.serving():
            raise LaunchError(f"{self.spec.name!r} stopped serving at {self._direct.address}")

    async def __del__(self) -> None:
        if self._direct is not None:
            await self._direct.close()

    async def asgi(self, method: str, target: str, headers: RawHeaders, body: bytes) -> RawReply:
        """A request from another service, through a deployment handle (`serve://` URLs), when
        its caller knows no direct address yet."""
        if self._app is None:
            raise LaunchError(f"service {self.spec.name!r} has no app yet")
        return await call_app(self._app, method, target, headers, body)


def route_prefix(name: str) -> str:
    """Where a service answers on the proxy: `/`, `/policy`, `/env/NAME`."""
    if name == AGENT:
        return "/"
    if name == POLICY:
        return "/policy"
    return f"/env/{name.removeprefix(env_service_name(''))}"


def handle_url(name: str) -> str:
    """How the other services reach a service: through a deployment handle."""
    return SERVE_SCHEME + APP_PREFIX + name


def replica_settings(config: GymConfig, env_names: list[str]) -> dict[str, ReplicaSettings]:
    """How many replicas of each service run, and their size, by service name."""
    policy = ReplicaSettings(replicas=1, num_cpus=config.cluster.policy_num_cpus)
    replicas = {POLICY: policy, AGENT: config.cluster.agent}
    for env in env_names:
        replicas[env_service_name(env)] = config.envs[env].cluster
    return replicas


def cluster_specs(
    config: GymConfig,
    env_names: list[str],
    urls: Mapping[str, str],
    replicas: Mapping[str, ReplicaSettings],
) -> list[ServiceSpec]:
    """The plan, with each resources server's sessions shared and its CPU pool sized."""
    specs = plan_services(config, env_names, urls)
    resources = {env_service_name(env) for env in env_names}
    for spec in specs:
        if spec.name in resources:
            sizing = replicas[spec.name]
            shards = SessionShards(namespace=NAMESPACE, names=_shard_names(spec.name, sizing))
            settings = ResourcesServerSettings.model_validate(spec.settings).model_copy(
                update={"cpu_workers": sizing.cpu_workers, "session_shards": shards}
            )
            spec.settings = settings.model_dump()
    return specs


def deployment_options(name: str, replicas: ReplicaSettings) -> dict[str, Any]:
    """The Ray Serve deployment options of one service; the deployment carries the name of its
    application (`gym-NAME`), so a `serve://` URL names both."""
    options: dict[str, Any] = {
        "name": APP_PREFIX + name,
        "ray_actor_options": {
            "num_cpus": replicas.num_cpus,
            "runtime_env": {"env_vars": SERVE_TUNING},
        },
        "max_ongoing_requests": replicas.max_ongoing_requests,
        "max_constructor_retry_count": CONSTRUCTOR_RETRIES,
        "graceful_shutdown_timeout_s": GRACEFUL_SHUTDOWN_S,
    }
    if replicas.max_replicas is None:
        options["num_replicas"] = replicas.replicas
    else:
        low = replicas.replicas if replicas.min_replicas is None else replicas.min_replicas
        options["autoscaling_config"] = {
            "min_replicas": low,
            "initial_replicas": replicas.replicas,
            "max_replicas": replicas.max_replicas,
            "target_ongoing_requests": replicas.target_ongoing_requests,
        }
    return options


class RayLauncher:
    """Start the services for some environments as Ray Serve applications; stop them all.

    `address` is what `ray.init` takes: `auto` (the cluster this node belongs to), `local`
    (a new one-node cluster), a `host:port` or a `ray://` address. When this process is
    already connected to Ray, that connection is used and `address` is ignored.
    """

    def __init__(self, config: GymConfig, env_names: list[str], address: str | None) -> None:
        self.config = config
        self.env_names = env_names
        self.address = address
        self.replicas = replica_settings(config, env_names)
        self._apps: list[str] = []
        self._shards: list[str] = []
        self._proxy = ""
        self._connected_here = False

    def start(self) -> Running:
        """Deploy every service; `wait_ready` waits until they answer."""
        # Under `uv run`, Ray would start every worker with `uv run` too, each building a fresh
        # copy of this environment (llama.cpp compiled anew) before it runs anything. Workers
        # use the node's interpreter instead, as with pip; set it to 1 to have Ray's behaviour.
        os.environ.setdefault(RAY_UV_PROPAGATION, "0")
        import ray
        from ray import serve

        host = self._proxy_host()
        if not ray.is_initialized():
            ray.init(
                address=self.address,
                namespace=NAMESPACE,
                log_to_driver=False,
                num_cpus=self._local_cpus(),
            )
            self._connected_here = True
        taken = [name for name in serve.status().applications if name.startswith(APP_PREFIX)]
        if taken:
            raise LaunchError(
                f"this Ray cluster already serves RL Gym ({', '.join(sorted(taken))}); stop "
                "that `gym serve` first (or `serve shutdown` if it was killed)"
            )
        # A free port is picked only now: Ray's own processes, started just above, take ports
        # of their own, and one of them may be the port picked before.
        host, port = _start_serve(host, self.config.serve.port or _free_port())
        self._proxy = f"http://{_connect_host(host)}:{port}"
        urls = {
            name: self._proxy + route_prefix(name).rstrip("/")
            for name in service_names(self.env_names)
        }
        handles = {name: handle_url(name) for name in urls}
        specs = cluster_specs(self.config, self.env_names, handles, self.replicas)
        targets = []
        for spec in specs:
            options = deployment_options(spec.name, self.replicas[spec.name])
            deployment = serve.deployment(**options)(serve.ingress()(ServiceReplica))
            app = APP_PREFIX + spec.name
            targets.append(
                serve.RunTarget(
                    target=deployment.bind(spec.model_dump(), host in LOOPBACK_HOSTS),
                    name=app,
                    route_prefix=route_prefix(spec.name),
                    logging_config=QUIET,
                )
            )
            self._apps.append(app)
            settings = spec.settings.get("session_shards")
            if settings:
                self._shards += settings["names"]
        serve_log = logging.getLogger("ray.serve")
        level = serve_log.level
        serve_log.setLevel(logging.WARNING)  # not "new http_options will not be applied"
        try:
            serve.run_many(
                targets,
                wait_for_ingress_deployment_creation=False,
                wait_for_applications_running=False,
            )
        except BaseException:
            self.stop()
            raise
        finally:
            serve_log.setLevel(level)
        endpoint = f"http://{_public_host(host)}:{port}"
        return Running(endpoint=endpoint, urls=urls)

    async def wait_ready(self) -> None:
        """Return when every application runs and answers `/healthz` through the proxy; raise
        if one fails to deploy or time runs out."""
        deadline = time.monotonic() + self.config.serve.startup_timeout_s
        waiting = set(self._apps)
        while waiting:
            statuses = await asyncio.to_thread(self._statuses)
            for app in list(waiting):
                status, message = statuses.get(app, ("NOT_STARTED", ""))
                if status == "DEPLOY_FAILED":
                    raise LaunchError(f"service {_service(app)!r} failed to deploy: {message}")
                if status == "RUNNING":
                    waiting.discard(app)
            if waiting and time.monotonic() > deadline:
                raise LaunchError(self._timeout_message(waiting, statuses))
            if waiting:
                await asyncio.sleep(HEALTH_POLL_S)
        await self._wait_healthy(deadline)

    def watch(self) -> None:
        """Raise `LaunchError` when a service stopped running for good. Ray Serve itself
        replaces a replica that dies, so nothing here restarts anything."""
        statuses = self._statuses()
        gone = [_service(app) for app in self._apps if statuses.get(app, ("",))[0] in _GONE]
        if gone:
            raise LaunchError(f"service {gone[0]!r} stopped running; stopping the others")

    def stop(self) -> None:
        """Delete our applications and session shards; Serve too when nothing else uses it."""
        if not (self._apps or self._connected_here):
            return  # nothing started
        import ray
        from ray import serve

        if not ray.is_initialized():
            return
        if self._connected_here and self.address == "local":
            # The cluster is this launcher's own: ending it ends every replica, shard and Serve
            # process (and, through `die_with_parent`, the replicas' CPU workers). Deleting the
            # applications first would wait for Serve's controller to drain each replica, up
            # to a minute on a busy machine, for requests nobody will read.
            self._apps.clear()
            self._shards.clear()
            _end_own_cluster()
            self._connected_here = False
            return
        others = [name for name in serve.status().applications if name not in self._apps]
        if others:
            for app in self._apps:
                serve.delete(app, _blocking=False)
            self._wait_deleted()
        else:
            serve.shutdown()
        from gym_core.launch.replica_addresses import REGISTRY_NAME

        for name in [*self._shards, REGISTRY_NAME]:
            try:
                ray.kill(ray.get_actor(name, namespace=NAMESPACE))
            except ValueError:
                continue  # never created
        self._apps.clear()
        self._shards.clear()
        if self._connected_here:
            ray.shutdown()
            self._connected_here = False

    def __enter__(self) -> RayLauncher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _proxy_host(self) -> str:
        host = self.config.serve.host
        if host not in WILDCARD_HOSTS | LOOPBACK_HOSTS:
            raise ConfigError(
                f"serve.host: {host!r} cannot be used with --cluster: Ray Serve's proxy "
                "listens on every node with a replica, so use 0.0.0.0 (with a token) to reach "
                "it from other machines, or 127.0.0.1"
            )
        return host

    def _local_cpus(self) -> int | None:
        """For a new one-node cluster (`local`): enough logical CPUs for every replica at
        start, at least this machine's. Joining a cluster: None, its nodes say."""
        if self.address != "local":
            return None
        wanted = sum(r.replicas * r.num_cpus for r in self.replicas.values())
        return max(os.cpu_count() or 1, math.ceil(wanted))

    def _statuses(self) -> dict[str, tuple[str, str]]:
        """Each of our applications' status, and what Serve says about it (e.g. a replica
        that cannot be scheduled for want of CPUs)."""
        from ray import serve

        statuses = {}
        for name, app in serve.status().applications.items():
            if name in self._apps:
                notes = [app.message, *(d.message for d in app.deployments.values())]
                statuses[name] = (str(app.status.value), " ".join(n for n in notes if n))
        return statuses

    async def _wait_healthy(self, deadline: float) -> None:
        async with HttpClient(timeout_s=2.0, max_retries=0) as http:
            for name in service_names(self.env_names):
                url = f"{self._proxy}{route_prefix(name).rstrip('/')}/healthz"
                while True:
                    try:
                        await http.get(url)
                        break
                    except ServiceError as error:
                        if time.monotonic() > deadline:
                            raise LaunchError(
                                f"service {name!r} is deployed but {url} does not answer: {error}"
                            ) from None
                    await asyncio.sleep(HEALTH_POLL_S)

    def _wait_deleted(self) -> None:
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while self._statuses() and time.monotonic() < deadline:
            time.sleep(HEALTH_POLL_S)

    def _timeout_message(self, waiting: set[str], statuses: Mapping[str, tuple[str, str]]) -> str:
        states = "; ".join(
            f"{_service(app)}: {' '.join(statuses.get(app, ('NOT_STARTED', '')))}".strip()
            for app in sorted(waiting)
        )
        return (
            f"services not running within {self.config.serve.startup_timeout_s:g}s ({states}); "
            "does the cluster have the CPUs the replicas ask for (`ray status`)?"
        )


_GONE = frozenset({"DEPLOY_FAILED", "DELETING"})


def _end_own_cluster() -> None:
    """Shut down the cluster this process started, and wait until every process of it is gone:
    Ray's workers exit a moment after their raylet, and one that lingers is killed."""
    import psutil
    import ray

    cluster = psutil.Process().children(recursive=True)
    ray.shutdown(wait_for_processes=True)
    _, lingering = psutil.wait_procs(cluster, timeout=CLUSTER_EXIT_S)
    for process in lingering:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(lingering, timeout=CLUSTER_EXIT_S)


def _start_serve(host: str, port: int) -> tuple[str, int]:
    """Start Serve's proxies at `host:port`; where they listen (when Serve already ran on
    the cluster, its proxies stay where they were)."""
    from ray import serve
    from ray.serve.context import _get_global_client  # no public way to read the address

    serve.start(
        http_options={"host": host, "port": port, "keep_alive_timeout_s": SERVER_KEEPALIVE_S},
        logging_config=QUIET,
    )
    client = _get_global_client()
    if client is None:
        raise LaunchError("Ray Serve did not start on the cluster")
    options = client.http_config
    if (options.host, options.port) != (host, port):
        print(
            f"gym: Ray Serve already runs on this cluster, with its proxies at "
            f"{options.host}:{options.port}: serving there",
            file=sys.stderr,
        )
    return options.host, options.port


def _service(app: str) -> str:
    return app.removeprefix(APP_PREFIX)


def _shard_names(service: str, replicas: ReplicaSettings) -> list[str]:
    """One shard per `REPLICAS_PER_SHARD` replicas (up to `MAX_SESSION_SHARDS`), at least one."""
    most = max(replicas.replicas, replicas.max_replicas or 0)
    count = min(MAX_SESSION_SHARDS, max(1, -(-most // REPLICAS_PER_SHARD)))
    return [f"{APP_PREFIX}sessions-{service}-{index}" for index in range(count)]


def _connect_host(host: str) -> str:
    """How services on a node reach the proxy of that node."""
    return "[::1]" if host in {"::", "::1"} else "127.0.0.1"


def _public_host(host: str) -> str:
    """The endpoint's host: this node's address when the proxy listens on every interface."""
    if host in WILDCARD_HOSTS:
        import ray

        return ray.util.get_node_ip_address()
    return _connect_host(host)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
