"""The custom collector over recorded data: producer recorders, fake consumer sources."""

from __future__ import annotations

import dataclasses
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from kafkaval.histogram import BUCKETS_SECONDS
from kafkaval.pacing import Phase
from loadgen.metrics import LoadgenCollector, stats_gauges
from loadgen.recorder import ConsumerRecorder, ProducerRecorder


@dataclasses.dataclass
class FakeConsumer:
    profile: str
    recorder: ConsumerRecorder
    topic_counts: dict[str, int]
    stats: dict[str, Any] | None = None


def _sample(registry: CollectorRegistry, name: str, labels: dict[str, str]) -> float | None:
    return registry.get_sample_value(name, labels)


def test_counters_and_histograms_follow_recorded_data() -> None:
    coll = LoadgenCollector()
    reg = CollectorRegistry()
    reg.register(coll)
    rec = ProducerRecorder(4, ["t.a"])
    coll.attach_producer("throughput", rec)
    for i, (svc, late) in enumerate([(1000, 0), (2000, 0), (150_000, 50_000)]):
        rec.on_sent(i, 0, late * 1000)
        rec.on_acked(i, (late + svc) * 1000)
    lbl = {"profile": "throughput", "role": "producer"}
    assert _sample(reg, "kafkaval_loadgen_service_latency_seconds_count", lbl) == 3
    assert (
        _sample(reg, "kafkaval_loadgen_service_latency_seconds_bucket", {**lbl, "le": "0.1"}) == 2
    )
    assert _sample(reg, "kafkaval_loadgen_response_latency_seconds_sum", lbl) == 0.203
    # Scraping twice must not count twice.
    assert _sample(reg, "kafkaval_loadgen_service_latency_seconds_count", lbl) == 3
    rec.on_sent(3, 0, 0)
    rec.on_failed(3)
    coll.detach(rec)
    clbl = {"profile": "throughput", "topic": "t.a", "role": "producer"}
    assert _sample(reg, "kafkaval_loadgen_messages_sent_total", clbl) == 4
    assert _sample(reg, "kafkaval_loadgen_messages_acked_total", clbl) == 3
    assert _sample(reg, "kafkaval_loadgen_messages_failed_total", clbl) == 1
    # A second run of the same profile adds up (counters stay monotonic).
    rec2 = ProducerRecorder(1, ["t.a"])
    rec2.on_sent(0, 0, 0)
    rec2.on_acked(0, 500_000)
    coll.attach_producer("throughput", rec2)
    assert _sample(reg, "kafkaval_loadgen_messages_sent_total", clbl) == 5
    assert _sample(reg, "kafkaval_loadgen_service_latency_seconds_count", lbl) == 4


def test_consumer_histogram_and_exposition_has_all_buckets() -> None:
    coll = LoadgenCollector()
    reg = CollectorRegistry()
    reg.register(coll)
    crec = ConsumerRecorder()
    crec.e2e_done.extend([3000, 4000])
    crec.consumed_count = 2
    coll.attach_consumer(FakeConsumer("burst", crec, {"t.b": 2}))
    coll.set_target_rate("burst", 5000.0)
    text = generate_latest(reg).decode()
    e2e_buckets = [
        ln
        for ln in text.splitlines()
        if ln.startswith("kafkaval_loadgen_e2e_latency_seconds_bucket")
    ]
    assert len(e2e_buckets) == len(BUCKETS_SECONDS) + 1
    assert (
        'kafkaval_loadgen_messages_consumed_total{profile="burst",role="consumer",topic="t.b"} 2.0'
        in text
    )
    assert (
        'kafkaval_loadgen_target_rate_messages_per_second{profile="burst",role="producer"} 5000.0'
        in text
    )


def test_stats_gauges_from_librdkafka_statistics() -> None:
    stats = {
        "msg_cnt": 42,
        "brokers": {
            "bootstrap": {"nodeid": -1, "rtt": {"avg": 999_999, "p99": 999_999}},
            "b1": {
                "nodeid": 1,
                "rtt": {"avg": 1500, "p99": 4000},
                "int_latency": {"avg": 250},
                "outbuf_latency": {"avg": 30},
                "txretries": 2,
            },
            "b2": {
                "nodeid": 2,
                "rtt": {"avg": 2500, "p99": 3000},
                "int_latency": {"avg": 100},
                "outbuf_latency": {"avg": 60},
                "txretries": 1,
            },
        },
    }
    g = stats_gauges(stats, "producer")
    assert g == {
        "broker_rtt_seconds": 0.0025,
        "broker_rtt_p99_seconds": 0.004,
        "queue_latency_seconds": 0.00025,
        "outbuf_latency_seconds": 0.00006,
        "queued_messages": 42.0,
        "retries": 3.0,
    }
    assert set(stats_gauges(stats, "consumer")) == {"broker_rtt_seconds", "broker_rtt_p99_seconds"}


def test_threshold_overrides_only_touch_enabled_checks() -> None:
    from loadgen.profiles import PROFILES
    from loadgen.results import thresholds_with

    over = {"max_startup_seconds": 60.0, "max_p95_service_seconds": 1.0, "max_failed": 3.0}
    t = thresholds_with(PROFILES["throughput"].thresholds, over)
    assert "max_startup_seconds" not in t
    assert t["max_p95_service_seconds"].expr == "p95(service) < 1.0"
    assert t["max_failed"].judge({"failed": 3}).passed  # type: ignore[union-attr]
    assert not t["max_failed"].judge({"failed": 4}).passed  # type: ignore[union-attr]
    s = thresholds_with(PROFILES["startup"].thresholds, over)
    assert s["max_startup_seconds"].expr == "startup_seconds < 60.0"
    assert "max_p95_service_seconds" not in s


def test_bucket_lookup_matches_the_bounds_at_every_edge() -> None:
    import numpy as np

    from kafkaval.histogram import _BOUNDS_US, bucket_counts

    edges = np.floor(_BOUNDS_US).astype(np.int64)
    values = np.concatenate([edges - 1, edges, edges + 1, [-3, 0, 65_535, 65_536, 10**9]])
    expected = np.bincount(
        np.searchsorted(_BOUNDS_US, values, side="left"), minlength=len(_BOUNDS_US) + 1
    )
    assert (bucket_counts(values) == expected).all()


def test_retries_are_a_counter_and_max_rate_has_no_target_series() -> None:
    coll = LoadgenCollector()
    reg = CollectorRegistry()
    reg.register(coll)
    stats = {"brokers": {"b1": {"nodeid": 1, "txretries": 4}}}
    rec = ProducerRecorder(1, ["t.a"])
    rec.stats = stats
    coll.attach_producer("burst", rec)
    lbl = {"profile": "burst", "role": "producer"}
    assert _sample(reg, "kafkaval_loadgen_rdkafka_retries_total", lbl) == 4.0
    # The producers' on_phase (one process, local workers and engine workers alike).
    follow = coll.follow_phases("burst")
    follow(Phase(count=10, rate=5000.0))
    assert _sample(reg, "kafkaval_loadgen_target_rate_messages_per_second", lbl) == 5000.0
    follow(Phase(count=10, rate=None))  # a phase as fast as possible
    text = generate_latest(reg).decode()
    assert "# TYPE kafkaval_loadgen_rdkafka_retries_total counter" in text
    assert "kafkaval_loadgen_target_rate_messages_per_second{" not in text
    coll.set_target_rate("burst", 0.0)  # between runs
    assert _sample(reg, "kafkaval_loadgen_target_rate_messages_per_second", lbl) == 0.0
