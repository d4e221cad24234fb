"""The registry of where each cluster replica answers plain HTTP (the actor's own logic; the
cluster tests run it as an actor)."""

from __future__ import annotations

from gym_core.launch.replica_addresses import STALE_S, ReplicaAddresses

APP = "gym-env-echo"


def test_a_replica_is_listed_under_its_application_once_announced() -> None:
    registry = ReplicaAddresses()
    registry.register(APP, "http://10.0.0.5:4100", "10.0.0.5")
    registry.register(APP, "http://10.0.0.5:4100", "10.0.0.5")  # a heartbeat
    registry.register("gym-policy", "http://10.0.0.5:4200", "10.0.0.5")
    assert registry.addresses(APP, "10.0.0.7") == ["http://10.0.0.5:4100"]


def test_a_loopback_address_is_given_only_to_callers_on_its_node() -> None:
    registry = ReplicaAddresses()
    registry.register(APP, "http://127.0.0.1:4100", "10.0.0.5")
    assert registry.addresses(APP, "10.0.0.5") == ["http://127.0.0.1:4100"]
    assert registry.addresses(APP, "10.0.0.7") == []


def test_a_dropped_or_silent_replica_is_forgotten() -> None:
    now = [1000.0]
    registry = ReplicaAddresses(clock=lambda: now[0])
    registry.register(APP, "http://10.0.0.5:4100", "10.0.0.5")
    registry.register(APP, "http://10.0.0.5:4101", "10.0.0.5")
    registry.register(APP, "http://10.0.0.6:4100", "10.0.0.6")
    registry.drop(APP, "http://10.0.0.5:4101")  # a caller could not connect
    now[0] += STALE_S / 2
    registry.register(APP, "http://10.0.0.6:4100", "10.0.0.6")
    now[0] += STALE_S / 2 + 1
    assert registry.addresses(APP, "10.0.0.5") == ["http://10.0.0.6:4100"]
