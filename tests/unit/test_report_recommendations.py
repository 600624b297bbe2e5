"""Each recommendation rule fires on its number, cites it, and stays silent below its limit."""

from __future__ import annotations

from datetime import UTC, datetime
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


def _broker(**row: Any) -> dict[str, Any]:
    base = {"instance": "broker-1", "handler_idle": 0.9, "gc": 0.01}
    return {"rows": [{**base, **row}], "missing": "", "where": "", "mean_ms": {}}


def _window() -> dict[str, Any]:
    start = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
    return {"start": start, "end": start.replace(minute=1), "seconds": 60.0}


def test_p95_on_one_copy_does_not_advise_about_min_insync_replicas() -> None:
    latency = {
        "service": {"prometheus": {"p95": 0.2}},
        "response": {"prometheus": {"p99": 0.3}},
    }
    rf1 = _profile(latency=latency, record={"parameters": {"replication_factor": 1}})
    rf3 = _profile(latency=latency, record={"parameters": {"replication_factor": 3}})
    (one,) = recommend({"profiles": [rf1], "resources": []})
    (three,) = recommend({"profiles": [rf3], "resources": []})
    assert "min.insync.replicas" not in one.advice and "replication factor 1" in one.advice
    assert "min.insync.replicas" in three.advice


def test_saturated_handlers_on_a_shared_small_host_are_not_told_to_add_threads() -> None:
    resources = [
        {"name": "broker-1", "cpu_avg": 0.9},
        {"name": "loadgen", "cpu_avg": 0.8},
    ]
    busy = _profile(broker=_broker(handler_idle=0.12), window=_window(), resources=resources)
    shared = {"profiles": [busy], "resources": [], "environment": {"cores": 2}}
    (rec,) = recommend(shared)
    assert rec.rule == "handler-saturated" and rec.scope == "throughput, broker-1"
    assert rec.evidence == (
        "request handler idle 12% in the throughput window 10:00:00-10:01:00 UTC (limit 30%)"
    )
    assert "shares 2 cores with loadgen (80% of a core)" in rec.advice
    assert "before raising num.io.threads" in rec.advice
    (alone,) = recommend({**shared, "environment": {"cores": 16}})
    assert alone.advice == "the request handler pool is saturated: raise num.io.threads"
    idle = _profile(broker=_broker(handler_idle=0.5), window=_window())
    assert recommend({"profiles": [idle], "resources": []}) == []


def test_replication_dominates_only_with_followers() -> None:
    broker = {**_broker(), "mean_ms": {"totaltimems": 10.0, "remotetimems": 7.0}}
    rf3 = _profile(
        broker=broker, window=_window(), record={"parameters": {"replication_factor": 3}}
    )
    (rec,) = recommend({"profiles": [rf3], "resources": []})
    assert rec.rule == "replication-dominates"
    assert rec.evidence.startswith("waiting for followers is 70% of a Produce's 10.00 ms")
    rf1 = {**rf3, "record": {"parameters": {"replication_factor": 1}}}
    assert recommend({"profiles": [rf1], "resources": []}) == []


def test_broker_gc_cites_its_share_of_the_window() -> None:
    p = _profile(broker=_broker(gc=0.08), window=_window())
    (rec,) = recommend({"profiles": [p], "resources": []})
    assert rec.rule == "broker-gc" and rec.evidence.startswith(
        "GC pauses took 8% of the throughput"
    )
    quiet = _profile(broker=_broker(gc=0.02), window=_window())
    assert recommend({"profiles": [quiet], "resources": []}) == []
