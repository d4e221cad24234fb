"""A service's metrics: a registry of its own, the service named on every sample, and text that
Prometheus's own parser reads back."""

from __future__ import annotations

from gym_core.metrics import Exposition, ServiceMetrics


def test_two_services_in_one_process_keep_their_own_series() -> None:
    first, second = ServiceMetrics("first"), ServiceMetrics("second")
    for metrics in (first, second):  # the same names twice: no clash in a global registry
        metrics.gauge("sessions_open", "Sessions alive now.").set(3)
    first.observe_request("POST", "/items", 200, 0.004)
    first.observe_request("POST", "/items", 200, 0.02)
    first.count_failure("tool_raised")
    second.restarts.inc(2)

    one, two = Exposition(first.render().decode()), Exposition(second.render().decode())
    items = {"service": "first", "method": "POST", "route": "/items"}
    assert one.value("requests_total", **items, status="200") == 2
    assert one.value("request_seconds_bucket", **items, le="0.005") == 1
    assert one.value("request_seconds_count", **items) == 2
    assert one.value("failures_total", kind="tool_raised") == 1
    assert (one.value("restarts_total"), two.value("restarts_total")) == (0, 2)
    assert two.value("requests_total") == 0
    assert two.value("sessions_open", service="second") == 3
    assert all(name.startswith("rlgym_") for name in one.samples)
    assert not any(name.endswith("_created") for name in one.samples)
    assert {labels["service"] for samples in two.samples.values() for labels, _ in samples} == {
        "second"
    }


def test_in_flight_is_read_when_scraped() -> None:
    metrics = ServiceMetrics("tiny")
    metrics.in_flight += 4
    assert Exposition(metrics.render().decode()).value("in_flight") == 4
