"""Prometheus text metrics for one service: requests, latencies, in-flight, failures by kind.

Small on purpose: every service needs the same handful of series, and a registry object per
app (rather than a process-global one) keeps tests and multi-app processes independent.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

__all__ = ["ServiceMetrics"]

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS_S) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        self.total += seconds


class ServiceMetrics:
    """The series of one service, rendered by `GET /metrics`."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.in_flight = 0
        self.restarts = 0
        """Times the launcher restarted this service after it died (it tells each new process)."""
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._latency: dict[tuple[str, str], _Histogram] = defaultdict(_Histogram)
        self._failures: dict[str, int] = defaultdict(int)
        self._gauges: dict[str, float] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._requests[(method, route, status)] += 1
        self._latency[(method, route)].observe(seconds)

    def count_failure(self, kind: str) -> None:
        """Count a domain failure (a failed rollout, a tool that raised, a verify timeout)."""
        self._failures[kind] += 1

    def set_gauge(self, name: str, value: float) -> None:
        """Set a service-specific gauge, e.g. `sessions_open`."""
        self._gauges[name] = value

    def failures(self) -> dict[str, int]:
        return dict(self._failures)

    def render(self) -> str:
        service = f'service="{self.service}"'
        lines = [
            "# TYPE rlgym_requests_total counter",
            *(
                f'rlgym_requests_total{{{service},method="{method}",route="{route}",'
                f'status="{status}"}} {count}'
                for (method, route, status), count in sorted(self._requests.items())
            ),
            "# TYPE rlgym_request_seconds histogram",
        ]
        for (method, route), histogram in sorted(self._latency.items()):
            labels = f'{service},method="{method}",route="{route}"'
            cumulative = 0
            for bound, count in zip((*LATENCY_BUCKETS_S, "+Inf"), histogram.counts, strict=True):
                cumulative += count
                lines.append(f'rlgym_request_seconds_bucket{{{labels},le="{bound}"}} {cumulative}')
            lines.append(f"rlgym_request_seconds_sum{{{labels}}} {histogram.total:.6f}")
            lines.append(f"rlgym_request_seconds_count{{{labels}}} {cumulative}")
        lines += [
            "# TYPE rlgym_in_flight gauge",
            f"rlgym_in_flight{{{service}}} {self.in_flight}",
            "# TYPE rlgym_restarts_total counter",
            f"rlgym_restarts_total{{{service}}} {self.restarts}",
            "# TYPE rlgym_failures_total counter",
            *(
                f'rlgym_failures_total{{{service},kind="{kind}"}} {count}'
                for kind, count in sorted(self._failures.items())
            ),
        ]
        for name, value in sorted(self._gauges.items()):
            lines += [f"# TYPE rlgym_{name} gauge", f"rlgym_{name}{{{service}}} {value}"]
        return "\n".join(lines) + "\n"
