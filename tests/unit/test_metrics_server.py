"""The one /metrics server every endpoint uses: served, then really closed."""

from __future__ import annotations

import requests
from prometheus_client import CollectorRegistry, Counter

from kafkaval.targets import MetricsServer


def test_a_closed_server_frees_its_port_for_the_next_run_in_the_same_process() -> None:
    registry = CollectorRegistry()
    Counter("kafkaval_probe", "a probe", registry=registry).inc(3)
    first = MetricsServer(registry, "127.0.0.1", 0)  # any free port
    port = first.port
    body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert "kafkaval_probe_total 3.0" in body
    first.close()
    # A second run (another scenario, the next test) binds the same port. With
    # shutdown() alone the socket stayed listening and this raised EADDRINUSE.
    second = MetricsServer(registry, "127.0.0.1", port)
    try:
        assert requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).ok
    finally:
        second.close()
