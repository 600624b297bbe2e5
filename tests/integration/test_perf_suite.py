"""The performance suite against the real broker and Prometheus (QUICK mode)."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from ports import free_port

from kafkaval.config import Settings
from kafkaval.histogram import BUCKET_ERROR_BOUND, BUCKETS_SECONDS
from kafkaval.records import SCHEMA_VERSION, record_schema
from loadgen.options import SuiteOptions
from loadgen.suite import run_suite

pytestmark = pytest.mark.integration

PROFILE_NAMES = ("throughput", "burst", "sustained", "snapshot", "startup")
LATENCY_KEYS = ("p50", "p95", "p99", "p999", "max")


@pytest.fixture(scope="module")
def perf_settings(stack_settings: Settings) -> Settings:
    # A free metrics port: other test sessions on this machine use the fixed ones.
    return dataclasses.replace(stack_settings, metrics_port=free_port())


@pytest.fixture(scope="module")
def quick_run(perf_settings: Settings) -> tuple[dict[str, Any], str]:
    out = io.StringIO()
    # The plan's latency/startup limits are for a dedicated host; test machines
    # run several stacks on 2 cores, so the test checks correctness with
    # generous limits (the thresholds are configurable for exactly this). The
    # rate limit too: a broker stalled for seconds by a loaded host holds the
    # sender back (seen in CI: 0.83 in a 12 s burst); pacing itself is exact in
    # the unit tests, and half the rate still catches a broken schedule.
    generous = {"max_p95_service_seconds": 5.0, "max_startup_seconds": 90.0, "min_rate_ratio": 0.5}
    opts = SuiteOptions(quick=True, progress=False, thresholds=generous)
    record = run_suite(perf_settings, opts, out=out)
    return record, out.getvalue()


def _query(settings: Settings, promql: str) -> list[dict[str, Any]]:
    r = requests.get(
        f"{settings.prometheus_url}/api/v1/query", params={"query": promql}, timeout=10
    )
    r.raise_for_status()
    return r.json()["data"]["result"]


def test_each_profile_passes_in_quick_mode(quick_run: tuple[dict[str, Any], str]) -> None:
    record, output = quick_run
    failed = {
        name: {k: c for k, c in p["thresholds"].items() if not c["passed"]}
        for name, p in record["profiles"].items()
        if not p["passed"]
    }
    assert not failed, f"{failed}\n{output}"
    assert set(record["profiles"]) == set(PROFILE_NAMES)
    assert record["passed"] is True
    assert "performance suite PASSED" in output


def test_record_has_every_field(
    quick_run: tuple[dict[str, Any], str], perf_settings: Settings
) -> None:
    record, _ = quick_run
    saved = json.loads((Path(perf_settings.results_dir) / "latest-performance.json").read_text())
    assert saved == json.loads(json.dumps(record))
    for key in ("run_id", "kind", "started_at", "ended_at", "quick", "passed", "profiles"):
        assert key in saved, key
    assert saved["kind"] == "performance" and saved["quick"] is True
    for name, p in saved["profiles"].items():
        for key in (
            "passed",
            "target_rate",
            "achieved_rate",
            "sent",
            "acked",
            "failed",
            "consumed",
            "service_latency_seconds",
            "response_latency_seconds",
            "e2e_latency_seconds",
            "thresholds",
        ):
            assert key in p, (name, key)
        for lat in ("service_latency_seconds", "response_latency_seconds", "e2e_latency_seconds"):
            assert set(LATENCY_KEYS) <= set(p[lat]), (name, lat)
        if name != "startup":
            lat = p["service_latency_seconds"]
            assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["p999"] <= lat["max"]
            assert p["e2e_latency_seconds"]["count"] == p["consumed"]
    assert saved["profiles"]["startup"]["startup_seconds"] > 0
    assert saved["profiles"]["burst"]["target_rate"] == 5000
    assert "recovery_seconds" in saved["profiles"]["burst"]
    assert saved["profiles"]["snapshot"]["drain_seconds"] is not None


def test_record_matches_the_json_schema(
    quick_run: tuple[dict[str, Any], str], perf_settings: Settings
) -> None:
    saved = json.loads((Path(perf_settings.results_dir) / "latest-performance.json").read_text())
    assert saved["schema_version"] == SCHEMA_VERSION
    jsonschema.validate(saved, record_schema())


def test_counts_are_exact(quick_run: tuple[dict[str, Any], str]) -> None:
    record, _ = quick_run
    for name, p in record["profiles"].items():
        assert p["sent"] == p["acked"] + p["failed"], name
        assert p["consumed"] == p["acked"], name
        if name != "startup":
            assert p["sent"] == p["messages_planned"] > 0, name
            assert p["failed"] == 0, name


def test_prometheus_has_series_and_quantiles_agree(
    quick_run: tuple[dict[str, Any], str], perf_settings: Settings
) -> None:
    record, _ = quick_run

    # The endpoint is gone (stale markers); last_over_time still sees the final scrape.
    def last(expr: str) -> str:
        return f"last_over_time({expr}[15m])"

    for name in ("throughput", "burst", "sustained", "snapshot"):
        p = record["profiles"][name]
        for kind, want in (
            ("sent", p["sent"]),
            ("acked", p["acked"]),
            ("failed", p["failed"]),
            ("consumed", p["consumed"]),
        ):
            res = _query(
                perf_settings,
                f"sum(last_over_time(kafkaval_loadgen_messages_{kind}_total"
                f'{{profile="{name}"}}[15m]))',
            )
            assert res and float(res[0]["value"][1]) == want, (name, kind, res)
        for metric, field, role in (
            ("service_latency_seconds", "service_latency_seconds", "producer"),
            ("response_latency_seconds", "response_latency_seconds", "producer"),
            ("e2e_latency_seconds", "e2e_latency_seconds", "consumer"),
        ):
            exact = p[field]["p95"]
            res = _query(
                perf_settings,
                "histogram_quantile(0.95, sum by (le) ("
                + last(f'kafkaval_loadgen_{metric}_bucket{{profile="{name}",role="{role}"}}')
                + "))",
            )
            assert res, (name, metric)
            approx = float(res[0]["value"][1])
            # The documented bound holds from 0.5 ms to the top bucket (10.23 s);
            # above it the histogram only knows "+Inf" (seen on a stalled host).
            if 0.0005 <= exact <= BUCKETS_SECONDS[-1]:
                assert math.isclose(approx, exact, rel_tol=BUCKET_ERROR_BOUND + 1e-6), (
                    name,
                    metric,
                    approx,
                    exact,
                )
    for metric in (
        "kafkaval_loadgen_target_rate_messages_per_second",
        "kafkaval_loadgen_rdkafka_broker_rtt_seconds",
        "kafkaval_loadgen_rdkafka_queued_messages",
        "kafkaval_loadgen_send_delay_seconds_count",
    ):
        assert _query(perf_settings, last(metric)), metric


def test_down_broker_fails_cleanly(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    t0 = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "kafkaval",
            "perf",
            "run",
            "--quick",
            "--profile",
            "throughput",
            "--bootstrap-servers",
            f"127.0.0.1:{port}",
            "--results-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert time.monotonic() - t0 < 30
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not reachable" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_workers_share_the_rate_with_exact_counts(perf_settings: Settings) -> None:
    # Two producer processes, each with its own /metrics endpoint; one consumer here.
    settings = dataclasses.replace(perf_settings, metrics_port=free_port())
    out = io.StringIO()
    generous = {"max_p95_service_seconds": 5.0, "min_rate_ratio": 0.95}
    opts = SuiteOptions(
        quick=True, progress=False, profiles=["throughput"], workers=2, thresholds=generous
    )
    record = run_suite(settings, opts, out=out)
    p = record["profiles"]["throughput"]
    assert p["passed"], (p["thresholds"], out.getvalue()[-2000:])
    assert p["workers"] == 2
    assert p["sent"] == p["acked"] == p["consumed"] == 8000 and p["failed"] == 0
    assert "2 workers, consumed" in out.getvalue()  # progress while the workers run
    instances = {f"loadgen-{i}" for i in (1, 2)}
    got = _query(
        settings,
        "count by (instance) (last_over_time(kafkaval_loadgen_messages_acked_total"
        '{profile="throughput"}[15m]))',
    )
    assert instances <= {r["metric"]["instance"] for r in got}, got
    total = _query(
        settings,
        'sum(last_over_time(kafkaval_loadgen_messages_acked_total{profile="throughput",'
        'role="producer",instance=~"loadgen-[12]",run_id=""}[15m]))',  # not a swarm run's
    )
    assert float(total[0]["value"][1]) == 8000  # Prometheus sums the workers


def test_every_report_from_the_real_broker_is_where_the_partition_order_says(
    perf_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loadgen attributes delivery reports by their order per partition
    # (loadgen.delivery_order) and normally checks one cycle position in 64;
    # here every report reads its own sequence number and is compared.
    from kafkaval import kafka_admin
    from kafkaval.pacing import Phase
    from loadgen import delivery_order
    from loadgen import producer as producer_module
    from loadgen.recorder import UNSET
    from loadgen.workload import Workload, producer_config

    monkeypatch.setattr(delivery_order, "CHECK_EVERY", 1)
    names = [perf_settings.topic_prefix + "order.a", perf_settings.topic_prefix + "order.b"]
    kafka_admin.create_topics(perf_settings, names, 3, 1)
    try:
        wl = Workload("order", tuple(names), (Phase(20_000, None),), record_size=1024)
        producer = producer_module.PacedProducer(wl, producer_config(perf_settings))
        producer.run()  # raises KafkavalError on a report out of order
        rec = producer.recorder
        assert rec.order is not None and len(rec.order.names) == 6
        assert (rec.sent_count, rec.acked_count, rec.failed_count) == (20_000, 20_000, 0)
        _, sent, acked = rec.arrays()
        assert (acked != UNSET).all() and (acked >= sent).all()
    finally:
        kafka_admin.delete_topics(perf_settings, names)
