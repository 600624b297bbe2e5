"""Every /metrics text the project serves passes ``promtool check metrics``.

promtool's linter applies Prometheus' naming rules (counters end in
``_total``, ``_total`` only on counters, base units) to an exposition; the
test adds the project's prefixes and the labels a scrape owns. Each collector
is filled with one example of every series it can serve, scraped as
Prometheus would, and linted.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from test_loadgen_metrics import FakeConsumer

from cdc.metrics import CdcMetrics
from chaos.metrics import DeliveryMetrics
from exporter.collector import ContainerCollector
from exporter.sample import TargetSample, Usage
from exporter.sampler import Sampler
from loadgen.metrics import LoadgenCollector
from loadgen.recorder import ConsumerRecorder, ProducerRecorder
from scheduler.metrics import SchedulerCollector, SchedulerState

STATS = {
    "msg_cnt": 3,
    "brokers": {"b1": {"nodeid": 1, "rtt": {"avg": 900, "p99": 1500}, "txretries": 2}},
}


def _loadgen() -> Collector:
    coll = LoadgenCollector()
    rec = ProducerRecorder(2, ["t.a"])
    rec.on_sent(0, 0, 0)
    rec.on_acked(0, 1_000_000)
    rec.stats = STATS
    coll.attach_producer("throughput", rec)
    crec = ConsumerRecorder()
    crec.e2e_done.extend([3000])
    crec.consumed_count = 1
    coll.attach_consumer(FakeConsumer("throughput", crec, {"t.a": 1}, STATS))
    coll.set_target_rate("throughput", 1000.0)
    return coll  # type: ignore[return-value]


def _delivery() -> Collector:
    metrics = DeliveryMetrics()
    for name in ("sent", "acked", "failed", "lost"):
        metrics.inc("broker-restart", "single", name)
    metrics.inc_group("broker-restart", "single", "g1", "delivered", 1)
    metrics.ack_latency("broker-restart", "single", 0.004)
    metrics.fault("broker-restart", "kill", "broker-1", True)
    metrics.passed("broker-restart", "single", True)
    return metrics


def _cdc() -> Collector:
    metrics = CdcMetrics()
    metrics.inc("cdc-load", "changes_committed")
    metrics.inc("cdc-load", "events_consumed")
    metrics.e2e("cdc-load", 0.02)
    return metrics


class _Source:
    kind = "docker"

    def sample(self) -> list[TargetSample]:
        usage = Usage(3.5, 100, 60, 0, 10, 20, 30, 40)
        return [
            TargetSample("kafka-1", "kafkaval/kafka:4.3.0", "kafka", True, 1.7e9, 0, usage),
            TargetSample("stopped", "img", "", False, None, 2, None),
        ]

    def close(self) -> None:
        pass


def _exporter() -> Collector:
    sampler = Sampler(_Source())  # type: ignore[arg-type]
    sampler.sample_once()
    return ContainerCollector(sampler)


def _scheduler() -> Collector:
    state = SchedulerState(["nightly"])
    state.started("nightly")
    state.finished(
        {
            "job": "nightly",
            "status": "regression",
            "started_at": "2026-12-01T02:00:00.000Z",
            "ended_at": "2026-12-01T02:10:00.000Z",
            "duration_seconds": 600.0,
            "verdicts": [{"metric": "performance.throughput.e2e_p99_seconds",
                          "decision": "regression", "effect": 0.2}],
        }
    )  # fmt: skip
    state.set_next_run("nightly", 1.8e9)
    return SchedulerCollector(state)


@pytest.mark.parametrize(
    "make",
    [_loadgen, _delivery, _cdc, _exporter, _scheduler],
    ids=["loadgen", "delivery", "cdc", "exporter", "scheduler"],
)
def test_promtool_check_metrics_reports_nothing(make: Callable[[], Collector]) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(make())
    text = generate_latest(registry).decode()
    assert text.count("# TYPE") >= 3, text  # the collector did serve its families
    exe = shutil.which("promtool")
    assert exe, "promtool not found: apt-get install prometheus"
    done = subprocess.run(
        [exe, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
    # What promtool does not check: our prefixes, and no label a scrape sets
    # itself ("job", "instance": Prometheus would keep ours as exported_job).
    for family in text_string_to_metric_families(text):
        assert family.name.startswith(("kafkaval_", "container_")), family.name
        for sample in family.samples:
            clash = {"job", "instance"} & set(sample.labels)
            assert not clash and not any(k.startswith("__") for k in sample.labels), sample
