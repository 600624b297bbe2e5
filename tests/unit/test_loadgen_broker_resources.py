"""Broker peaks from Prometheus answers (a fake Prometheus at the query boundary)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kafkaval.prom_client import PrometheusError, Sample
from loadgen.broker_resources import broker_peaks, is_broker
from loadgen.profiles import PROFILES
from loadgen.results import threshold_checks, threshold_records

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Prom:
    def __init__(self, answers: dict[str, list[Sample]] | None = None, down: bool = False) -> None:
        self.answers = answers or {}
        self.down = down

    def query(self, expr: str, at=None):  # noqa: ANN001
        if self.down:
            raise PrometheusError("Prometheus at http://127.0.0.1:1 is unreachable")
        kinds = (("memory", "memory"), ("increase(container_cpu", "cpu_seconds"),
                 ("fs_writes", "written"), ("jvm_gc", "gc"), ("cpu", "cpu"))  # fmt: skip
        return self.answers.get(next(k for key, k in kinds if key in expr), [])

    def query_range(self, *a, **k):  # noqa: ANN002, ANN003
        return []


def test_brokers_are_told_from_other_processes() -> None:
    for name in ("broker-1", "broker-12", "kafka", "proj_kafka_1", "proj-kafka-2-1", "p_kafka-3_1"):
        assert is_broker(name), name
    for name in (
        "prometheus",
        "exporter",
        "connect",
        "kafkaval-startup-ab12",
        "kafkaval_loadgen_run",
    ):
        assert not is_broker(name), name


def test_peaks_are_the_maximum_over_brokers_only() -> None:
    prom = Prom(
        {
            "memory": [
                Sample({"name": "broker-1"}, 700e6),
                Sample({"name": "broker-2"}, 900e6),
                Sample({"name": "prometheus"}, 5e9),  # not a broker: ignored
            ],
            "cpu": [Sample({"name": "broker-1"}, 0.8), Sample({"name": "exporter"}, 1.5)],
            "cpu_seconds": [
                Sample({"name": "broker-1"}, 20.0),
                Sample({"name": "broker-2"}, 10.5),
                Sample({"name": "exporter"}, 99.0),
            ],
            "written": [Sample({"name": "broker-1"}, 5e6), Sample({"name": "broker-2"}, 2e6)],
            "gc": [Sample({}, 0.25)],
        }
    )
    out = broker_peaks("http://x", T0, T0 + timedelta(seconds=60), 2.0, source=prom)
    assert out == {
        "broker_cpu_peak_cores": 0.8,
        "broker_memory_peak_bytes": 900_000_000,
        "broker_cpu_seconds": 30.5,  # the sum over the brokers: the work's cost
        "broker_disk_written_bytes": 7_000_000,
        "broker_gc_seconds": 0.25,
    }


def test_no_exporter_or_no_prometheus_gives_none_and_a_note() -> None:
    empty = broker_peaks("http://x", T0, T0 + timedelta(seconds=9), 2.0, source=Prom())
    assert empty["broker_memory_peak_bytes"] is None and "exporter" in empty["note"]
    assert empty["broker_cpu_seconds"] is None and empty["broker_gc_seconds"] is None
    down = broker_peaks("http://x", T0, T0 + timedelta(seconds=9), 2.0, source=Prom(down=True))
    assert down["broker_cpu_peak_cores"] is None and "unreachable" in down["note"]
    assert down["broker_disk_written_bytes"] is None


def check(result: dict, thresholds: dict) -> dict:
    """The record's thresholds entry, as the suite writes it."""
    return threshold_records(threshold_checks(result, thresholds))


def _result(**extra: object) -> dict:
    latency = {"p50": 0.01, "p95": 0.02, "p99": 0.03, "p999": 0.04, "max": 0.05}
    base = {"target_rate": 1000.0, "achieved_rate": 1000.0, "sent": 10, "acked": 10,
            "failed": 0, "consumed": 10, "service_latency_seconds": latency}  # fmt: skip
    return {**base, **extra}


def test_broker_memory_threshold_judges_the_measured_peak() -> None:
    t = PROFILES["throughput"].thresholds
    assert check(_result(broker_memory_peak_bytes=1.5 * 2**30), t)["max_broker_memory_bytes"][
        "passed"
    ]
    over = check(_result(broker_memory_peak_bytes=2.5 * 2**30), t)["max_broker_memory_bytes"]
    assert over == {
        "expr": "broker_memory < 2GiB",
        "limit": 2 * 2**30,
        "value": 2.5 * 2**30,
        "passed": False,
    }
    # Not measured (no broker series): reported as such, and it fails closed.
    unmeasured = check(_result(broker_memory_peak_bytes=None), t)["max_broker_memory_bytes"]
    assert unmeasured["passed"] is False
    assert unmeasured["reason"].startswith("not measured")
