"""The Prometheus metrics of one service: requests, latencies, in-flight, failures by kind,
restarts and the event loop's lag, in a `prometheus_client` registry of its own; and
`Exposition`, the same text read back (by `gym status`, `gym hub validate` and the tests).

A registry per app (never the process-global one) keeps tests and multi-app processes
independent. Series carry no `service` label of their own: the app's name is added to every
sample as it is exposed, so that series of several services can be told apart once scraped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS_S",
    "POLICY_SERVER_INFO",
    "PREFIX",
    "Exposition",
    "ServiceMetrics",
]

PREFIX = "rlgym_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""Prometheus's text exposition format."""
LATENCY_BUCKETS_S = (
    *(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
    *(1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
"""From a loopback hop (about a millisecond) to a long generation of a real model."""
POLICY_SERVER_INFO = "policy_server_info"
"""The agent server's gauge (always 1) whose `url` label names its policy server, so that
`gym status` finds it from the agent's address alone."""


class ServiceMetrics:
    """The series of one service, rendered by `GET /metrics`. Services add their own with
    `gauge`, `counter` and `histogram` (names without the `rlgym_` prefix)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=False)
        self.in_flight = 0
        """Requests being handled now (read when scraped, so counting costs nothing)."""
        self._requests = self.counter(
            "requests",
            "Requests answered, by route template and status (499: the client hung up first).",
            ("method", "route", "status"),
        )
        self._request_seconds = self.histogram(
            "request_seconds", "Time to answer a request.", ("method", "route")
        )
        self._by_request: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.gauge("in_flight", "Requests being handled now.").set_function(lambda: self.in_flight)
        self.restarts = self.counter(
            "restarts", "Times the launcher restarted this service after it died."
        )
        self._failures = self.counter(
            "failures",
            "Domain failures by kind: failed rollouts, tools that raised, verify timeouts.",
            ("kind",),
        )
        self.event_loop_lag = self.gauge(
            "event_loop_lag_seconds",
            "How late the event loop last ran a task that was due: work that blocks it.",
        )

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """A counter in this service's registry (`_total` is added to its name)."""
        return Counter(PREFIX + name, documentation, labels, registry=self.registry)

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        """A gauge in this service's registry, e.g. `sessions_open`."""
        return Gauge(PREFIX + name, documentation, labels, registry=self.registry)

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS_S,
    ) -> Histogram:
        """A histogram in this service's registry; seconds unless `buckets` say otherwise."""
        return Histogram(
            PREFIX + name, documentation, labels, registry=self.registry, buckets=buckets
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        series = self._by_request.get(key)
        if series is None:  # labels() takes a lock and a few microseconds: once per route
            series = (
                self._requests.labels(method, route, status),
                self._request_seconds.labels(method, route),
            )
            self._by_request[key] = series
        series[0].inc()
        series[1].observe(seconds)

    def count_failure(self, kind: str) -> None:
        """Count a domain failure (a failed rollout, a tool that raised, a verify timeout)."""
        self._failures.labels(kind).inc()

    def render(self) -> bytes:
        """Every series in Prometheus's text format, each sample labelled with the service."""
        return generate_latest(_ServiceSamples(self.registry, self.service))


class _ServiceSamples(Collector):
    """The registry's metrics with `service` added to every sample's labels, and without the
    `_created` samples `prometheus_client` adds to counters and histograms (creation times,
    which the text format can only expose as extra gauges that nobody graphs)."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.registry = registry
        self.service = service

    def collect(self) -> Iterable[Metric]:
        for metric in self.registry.collect():
            metric.samples = [
                sample._replace(labels={"service": self.service, **sample.labels})
                for sample in metric.samples
                if not sample.name.endswith("_created")
            ]
            yield metric


class Exposition:
    """One service's `/metrics`, parsed: samples by name (`rlgym_rollouts_total`, ...)."""

    def __init__(self, text: str) -> None:
        self.samples: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[sample.name].append((sample.labels, sample.value))

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples `rlgym_<name>` whose labels include `labels`."""
        return sum(
            value
            for found, value in self.samples.get(PREFIX + name, ())
            if labels.items() <= found.items()
        )

    def label_values(self, name: str, label: str) -> list[str]:
        """The values `label` takes in the samples `rlgym_<name>`, sorted."""
        return sorted({found[label] for found, _ in self.samples.get(PREFIX + name, ())})

    def mean(self, histogram: str, **labels: str) -> float | None:
        """A histogram's mean (sum over count); None before its first observation."""
        count = self.value(f"{histogram}_count", **labels)
        return self.value(f"{histogram}_sum", **labels) / count if count else None
