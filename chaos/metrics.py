"""Prometheus metrics of the delivery suite, as one custom collector.

The suite updates plain counters in this object (thread-safe); ``collect``
builds fresh metric families on each scrape. Labels: ``scenario`` (the
scenario's result key, e.g. ``broker-restart`` or ``broker-restart@single``),
``cluster`` (``single`` / ``3-broker``), ``group`` (consumer group role
``g1``...), ``kind`` and ``target`` for faults. docs/metrics.md lists them.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from kafkaval.histogram import SlotHistogram

# Per scenario and cluster shape.
SCENARIO_COUNTERS = {
    "sent": "messages the producers sent",
    "acked": "sends acknowledged by the broker",
    "failed": "sends reported failed",
    "indeterminate": "sends with no definite outcome (timed out / unknown)",
    "lost": "acked messages not in the log at the final read",
    "log_duplicates": "extra copies of a message id in the log",
    "reordered": "records out of sequence order per partition and producer",
    "failed_visible": "sends reported failed whose message is in the log",
    "inconsistent_offsets": "acked messages the log holds elsewhere than at their acked offset",
    "foreign": "records in the log that no producer of the run wrote",
    "removed": "acked messages below a log start offset above the run's first offset",
}
# Per scenario, cluster shape and consumer group.
GROUP_COUNTERS = {
    "delivered": "records delivered to the group",
    "redeliveries": "records delivered again to the group (same partition and offset)",
    "missing": "acked messages never delivered to the group",
    "unseen": "failed or indeterminate sends in the log never delivered to the group",
    "inconsistent_offsets": "deliveries whose partition and offset hold another record in the log",
    "nonmonotonic_poll": "deliveries at or below the previous offset within one assignment",
    "poll_skip": "records of the log jumped over between two deliveries of one assignment",
    "unreadable_lines": "lines of the group's delivery ledger that are not records",
}


class DeliveryMetrics(Collector):
    """Counters per scenario/group, the ack-latency histogram and the fault-active gauge."""

    def __init__(self) -> None:
        # Ack latency per (scenario, cluster): per-bucket counts (loadgen's
        # bucket layout, within 4% over 0.5 ms - 10 s) and the sum in seconds.
        self._ack: dict[tuple[str, str], SlotHistogram] = {}
        self._lock = threading.Lock()
        self._scenario: dict[tuple[str, str, str], float] = defaultdict(float)
        self._group: dict[tuple[str, str, str, str], float] = defaultdict(float)
        self._fault: dict[tuple[str, str, str], int] = {}
        self._passed: dict[tuple[str, str], int] = {}

    def inc(self, scenario: str, cluster: str, name: str, amount: float = 1) -> None:
        with self._lock:
            self._scenario[(scenario, cluster, name)] += amount

    def inc_group(self, scenario: str, cluster: str, group: str, name: str, amount: float) -> None:
        with self._lock:
            self._group[(scenario, cluster, group, name)] += amount

    def ack_latency(self, scenario: str, cluster: str, seconds: float) -> None:
        with self._lock:
            self._ack.setdefault((scenario, cluster), SlotHistogram()).observe(seconds)

    def fault(self, scenario: str, kind: str, target: str, active: bool) -> None:
        with self._lock:
            self._fault[(scenario, kind, target)] = int(active)

    def passed(self, scenario: str, cluster: str, ok: bool) -> None:
        with self._lock:
            self._passed[(scenario, cluster)] = int(ok)

    def value(self, scenario: str, cluster: str, name: str) -> float:
        with self._lock:
            return self._scenario.get((scenario, cluster, name), 0.0)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            scenario = dict(self._scenario)
            group = dict(self._group)
            fault = dict(self._fault)
            passed = dict(self._passed)
            ack = {k: (h.buckets(), h.sum_seconds) for k, h in self._ack.items()}
        for name, help_text in SCENARIO_COUNTERS.items():
            fam = CounterMetricFamily(
                f"kafkaval_delivery_{name}", help_text.capitalize(), labels=["scenario", "cluster"]
            )
            for (s, c, n), v in sorted(scenario.items()):
                if n == name:
                    fam.add_metric([s, c], v)
            yield fam
        for name, help_text in GROUP_COUNTERS.items():
            fam = CounterMetricFamily(
                f"kafkaval_delivery_group_{name}",
                help_text.capitalize(),
                labels=["scenario", "cluster", "group"],
            )
            for (s, c, g, n), v in sorted(group.items()):
                if n == name:
                    fam.add_metric([s, c, g], v)
            yield fam
        hist = HistogramMetricFamily(
            "kafkaval_delivery_ack_latency_seconds",
            "Send -> acknowledgement of the scenario's producer",
            labels=["scenario", "cluster"],
        )
        for (s, c), (buckets, total) in sorted(ack.items()):
            hist.add_metric([s, c], buckets, total)
        yield hist
        gauge = GaugeMetricFamily(
            "kafkaval_chaos_fault_active",
            "1 while a fault is applied to the target, else 0",
            labels=["scenario", "kind", "target"],
        )
        for (s, k, t), v in sorted(fault.items()):
            gauge.add_metric([s, k, t], v)
        yield gauge
        ok = GaugeMetricFamily(
            "kafkaval_delivery_scenario_passed",
            "1 if the scenario's last run met all its bounds, 0 if not",
            labels=["scenario", "cluster"],
        )
        for (s, c), v in sorted(passed.items()):
            ok.add_metric([s, c], v)
        yield ok
