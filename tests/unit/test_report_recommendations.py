"""Each recommendation rule fires on its number, cites it, and stays silent below its limit."""

from __future__ import annotations

from typing import Any

from report.recommendations import recommend


def _profile(**over: Any) -> dict[str, Any]:
    base = {
        "name": "throughput",
        "send_delay_p99": 0.001,
        "outbuf_latency_max": 0.001,
        "prom": {"acked": 100.0, "consumed": 100.0, "failed": 0.0, "max_lag": 3.0},
        "latency": {
            "service": {"prometheus": {"p95": 0.01}},
            "response": {"prometheus": {"p99": 0.02}},
        },
    }
    return {**base, **over}


def test_quiet_run_fires_nothing() -> None:
    ctx = {"profiles": [_profile()], "resources": [{"name": "broker-1", "cpu_peak": 0.5}]}
    assert recommend(ctx) == []


def test_loadgen_bottleneck_cites_send_delay() -> None:
    (rec,) = recommend({"profiles": [_profile(send_delay_p99=0.015)], "resources": []})
    assert rec.rule == "loadgen-bottleneck"
    assert "send delay p99 15.0 ms is 75% of response p99 20.0 ms" in rec.evidence


def test_broker_memory_only_for_brokers() -> None:
    resources = [
        {"name": "broker-1", "memory_peak": 1.9 * 1024**3},
        {"name": "loadgen", "memory_peak": 5 * 1024**3},
    ]
    recs = recommend({"profiles": [], "resources": resources})
    assert [(r.rule, r.scope) for r in recs] == [("broker-memory", "broker-1")]
    assert "1.90 GiB" in recs[0].evidence


def test_lag_not_draining_cites_the_gap() -> None:
    prom = {"acked": 1000.0, "consumed": 400.0, "failed": 0.0, "max_lag": 800.0}
    (rec,) = recommend({"profiles": [_profile(prom=prom)], "resources": []})
    assert rec.rule == "lag-not-draining" and "600 acked messages" in rec.evidence
