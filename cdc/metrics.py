"""Prometheus metrics of the CDC runs, one custom collector.

Counters of committed changes and consumed change events, and the
end-to-end latency histogram (commit time in the database, ``source.ts_ms``,
to consumed; loadgen's bucket layout) of the live consumer. Label:
``scenario``, the run's (``cdc-load``, ``cdc-snapshot``,
``connector-restart``). A run serves them on ``metrics_port + 85`` (job
``kafkaval-cdc``) while it runs and stays up until Prometheus scraped the
final values. docs/metrics.md lists them.
"""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kafkaval.config import Settings
from kafkaval.histogram import SlotHistogram
from kafkaval.targets import serve_metrics

METRICS_PORT_OFFSET = 85  # clear of loadgen workers (+0..16), exporter (+17), delivery (+90)
JOB = "kafkaval-cdc"
INSTANCE = "cdc"


class CdcMetrics(Collector):
    """Thread-safe counters and the e2e histogram, built fresh on each scrape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], float] = defaultdict(float)
        self._e2e: dict[str, SlotHistogram] = {}

    def inc(self, scenario: str, name: str, amount: float = 1) -> None:
        with self._lock:
            self._counts[(scenario, name)] += amount

    def count(self, scenario: str, name: str) -> float:
        """The current value of counter ``name`` (e.g. "events_consumed") of ``scenario``."""
        with self._lock:
            return self._counts.get((scenario, name), 0.0)

    def e2e(self, scenario: str, seconds: float) -> None:
        with self._lock:
            self._e2e.setdefault(scenario, SlotHistogram()).observe(seconds)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts = dict(self._counts)
            e2e = {k: (h.buckets(), h.sum_seconds) for k, h in self._e2e.items()}
        for name, help_text in (
            ("changes_committed", "Changes committed in PostgreSQL by the run's driver"),
            ("events_consumed", "Change events read from the Debezium topics"),
        ):
            fam = CounterMetricFamily(f"kafkaval_cdc_{name}", help_text, labels=["scenario"])
            for (scenario, n), v in sorted(counts.items()):
                if n == name:
                    fam.add_metric([scenario], v)
            yield fam
        hist = HistogramMetricFamily(
            "kafkaval_cdc_e2e_latency_seconds",
            "Commit in the database (source.ts_ms) -> consumed, live",
            labels=["scenario"],
        )
        for scenario, (buckets, total) in sorted(e2e.items()):
            hist.add_metric([scenario], buckets, total)
        yield hist


@contextlib.contextmanager
def serving(settings: Settings, metrics: CdcMetrics) -> Iterator[None]:
    """Serve ``metrics`` for the block (see `kafkaval.targets.serve_metrics`).

    Every CDC run serves on the same port under the same instance, so the
    ``scenario`` label alone tells runs apart: Prometheus drops a removed
    file_sd target only seconds later, so an instance per run would have the
    next run's samples scraped under the previous run's instance too.
    """
    port = settings.metrics_port + METRICS_PORT_OFFSET
    with serve_metrics(settings, metrics, port, JOB, INSTANCE, "CDC metrics"):
        yield
