"""A fake Prometheus for report unit tests: fixed answers chosen by the query text.

It stands at the boundary (what PromClient returns) so collect, recommendations
and render run unchanged. Answers are deterministic functions of the query, so
golden files stay stable.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from kafkaval.prom_client import Sample, Series

LATENCY_SCALE = {"service": 0.01, "response": 0.012, "e2e": 0.015, "send_delay": 0.002}
# The brokers' JMX series (job kafka-broker) by a fragment of the query: one broker.
BROKER_ANSWERS = {
    "up{": 1.0,
    'totaltimems{job="kafka-broker",request="Produce",quantile': 4.5,
    'requestqueuetimems{job="kafka-broker",request="Produce",quantile': 0.5,
    'localtimems{job="kafka-broker",request="Produce",quantile': 1.2,
    'remotetimems{job="kafka-broker",request="Produce",quantile': 2.0,
    "totaltimems_mean": 2.0,
    "requestqueuetimems_mean": 0.2,
    "localtimems_mean": 0.6,
    "remotetimems_mean": 1.0,
    "responsequeuetimems_mean": 0.05,
    "responsesendtimems_mean": 0.15,
    "requesthandleravgidlepercent": 0.85,
    "bytesin_total": 1048576.0,
    "underreplicatedpartitions": 0.0,
    "jvm_gc_collection_seconds_sum": 0.012,
    "isrshrinks_total": 3.0,
    "isrexpands_total": 3.0,
    "leadercount": 2.0,
    "current_leader": 0.0,
}


class FakeProm:
    """Answers queries as a Prometheus holding the fixture runs would.

    Args:
        totals: ``{(label value, counter kind): value}`` for totals queries,
            e.g. ``{("throughput", "sent"): 60000}``.
        empty: answer every query with no data (an empty window).
    """

    def __init__(
        self, totals: dict[tuple[str, str], float], empty: bool = False, brokers: bool = True
    ) -> None:
        self.totals = totals
        self.empty = empty
        self.brokers = brokers
        self.queries: list[str] = []

    def _label(self, expr: str) -> str:
        m = re.search(r'(?:profile|scenario)="([^"]+)"', expr)
        return m.group(1) if m else ""

    def query(self, expr: str, at: datetime | float | None = None) -> list[Sample]:
        self.queries.append(expr)
        if self.empty:
            return []
        if "count({__name__" in expr:
            return [Sample({}, 42.0)]
        if 'job="kafka-broker"' in expr:
            value = next((v for k, v in BROKER_ANSWERS.items() if k in expr), None)
            ok = self.brokers and value is not None
            return [Sample({"instance": "broker-1"}, value)] if ok else []
        if "by (name)" in expr and "count_over_time" in expr:  # samples: one per 2 s
            return [Sample({"name": "broker-0"}, 30.0), Sample({"name": "loadgen"}, 30.0)]
        if "by (name)" in expr and "timestamp(" in expr:  # from the first to the last
            return [Sample({"name": "broker-0"}, 58.0), Sample({"name": "loadgen"}, 58.0)]
        if "by (name)" in expr:
            broker = 0.93 if "cpu" in expr and "max_over_time" in expr else 0.45
            if "memory" in expr:
                return [
                    Sample({"name": "broker-0"}, 734003200.0),
                    Sample({"name": "loadgen"}, 1.5e8),
                ]
            return [Sample({"name": "broker-0"}, broker), Sample({"name": "loadgen"}, 0.3)]
        if ") - sum(" in expr:  # consumer lag: acked - consumed
            return [Sample({}, 1200.0)]
        if "histogram_quantile" in expr:
            q = float(re.match(r"histogram_quantile\(([0-9.]+)", expr).group(1))
            kind = next(k for k in LATENCY_SCALE if f"_{k}_" in expr or f"{k}_latency" in expr)
            factor = 20.0 if self._label(expr) == "burst" else 1.0
            return [Sample({}, round(q * LATENCY_SCALE[kind] * factor, 6))]
        m = re.search(
            r"kafkaval_\w+?_(sent|acked|failed|consumed|lost|log_duplicates|"
            r"redeliveries|changes_committed)_total",
            expr,
        )
        if m:
            value = self.totals.get((self._label(expr), m.group(1)))
            return [] if value is None else [Sample({}, float(value))]
        if "target_rate" in expr:
            return [Sample({}, 5000.0 if self._label(expr) == "burst" else 1000.0)]
        if "outbuf" in expr:
            return [Sample({}, 0.025 if self._label(expr) == "burst" else 0.001)]
        return []

    def query_range(
        self, expr: str, start: Any, end: Any, step: float | None = None, min_step: float = 1.0
    ) -> list[Series]:
        self.queries.append(expr)
        if self.empty or ('job="kafka-broker"' in expr and not self.brokers):
            return []
        t0 = start.timestamp()
        points = [(t0 + 2 * i, float(i % 7)) for i in range(30)]
        if 'up{job="kafka-broker"}' in expr:  # one broker, always answering
            points = [(t, 1.0) for t, _ in points]
        if "underreplicatedpartitions" in expr:  # 3 URP from +10 s, healed at +24 s
            points = [(t0 + 2 * i, 3.0 if 5 <= i < 12 else 0.0) for i in range(30)]
        labels = {"name": "broker-0"} if "by (name)" in expr else {}
        return [Series(labels, points)]


def fixture_totals() -> dict[tuple[str, str], float]:
    """Totals matching the fixture records, except two deliberate mismatches."""
    return {
        ("throughput", "sent"): 60000,
        ("throughput", "acked"): 60000,
        ("throughput", "failed"): 0,
        ("throughput", "consumed"): 60000,
        ("burst", "sent"): 150000,
        ("burst", "acked"): 149990,
        ("burst", "failed"): 10,
        # missed final scrape: Prometheus saw fewer consumed than the record
        ("burst", "consumed"): 149000,
        ("consumer-restart", "sent"): 120000,
        ("consumer-restart", "acked"): 120000,
        ("consumer-restart", "lost"): 0,
        ("consumer-restart", "log_duplicates"): 0,
        # redeliveries deliberately absent: "no series" must be shown
    }
