"""Peak CPU and memory, and the work's cost, of the brokers during one profile, from Prometheus.

The exporter (the local stack's process exporter, or the Docker exporter of
the compose stack) publishes cAdvisor-named series per process/container;
the named PromQL (``kafkaval/promql.py``: ``cpu_peak``, ``memory_peak``) turns
them into peaks over a window. The performance suite asks right after each
profile, so the broker-memory threshold (< 2 GiB) is judged on the broker
that carried the load, and the regression verdict can compare broker CPU and
memory peaks between runs.

Which series are brokers: local processes ``broker-<n>``, and containers of
the compose services ``kafka``, ``kafka-2``, ``kafka-3`` (``<project>-kafka-1``). The peak is
over the samples scraped during the profile: the last scrape interval may
not be in yet, which a peak over a whole profile rarely depends on. The
costs (CPU seconds, bytes written, GC seconds: see ``loadgen/cost.py``) are
``increase()`` over the same window, summed over the brokers; Prometheus
extrapolates them to the window's edges.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from kafkaval.prom_client import PromClient, PrometheusError
from kafkaval.prom_queries import QueryRunner, QuerySource, Window

# broker-1 (local); kafka, <project>_kafka_1, <project>-kafka-2-1 (compose v1/v2);
# not kafkaval-* (the tools' own containers) nor the startup benchmark's broker.
_BROKER = re.compile(r"^broker-\d+$|(^|[_-])kafka(-\d+)?([_-]\d+)?$")


def is_broker(name: str) -> bool:
    return bool(_BROKER.search(name))


def broker_peaks(
    prometheus_url: str,
    start: datetime,
    end: datetime,
    scrape_interval: float,
    source: QuerySource | None = None,
) -> dict[str, Any]:
    """Broker figures over [start, end].

    ``broker_cpu_peak_cores`` and ``broker_memory_peak_bytes`` are the maximum
    over the brokers; ``broker_cpu_seconds``, ``broker_disk_written_bytes`` and
    ``broker_gc_seconds`` the sum over them. Each is None when Prometheus
    holds no such series (no exporter running; no JMX agent for GC). Best
    effort: an unreachable Prometheus gives Nones and a note, never a failed run.
    """
    runner = QueryRunner(source or PromClient(prometheus_url), scrape_interval)
    window = Window(start, end, scrape_interval)
    # A profile shorter than the scrapes (a snapshot's fraction of a second) may hold
    # no sample of its own: the peaks look back at least two scrape intervals. The
    # earlier load can only raise a peak, so an upper limit is never passed by it.
    reach = timedelta(seconds=2 * scrape_interval + 1)
    peak_window = Window(min(start, end - reach), end, scrape_interval)
    keys = (
        "broker_cpu_peak_cores",
        "broker_memory_peak_bytes",
        "broker_cpu_seconds",
        "broker_disk_written_bytes",
        "broker_gc_seconds",
    )
    try:
        cpu = _brokers(runner, "cpu_peak", peak_window)
        mem = _brokers(runner, "memory_peak", peak_window)
        cpu_s = _brokers(runner, "cpu_seconds", window)
        written = _brokers(runner, "disk_written", window)
        gc = runner.scalar("broker_gc_seconds", window)
    except PrometheusError as e:  # best effort: the load figures stand without it
        return {**dict.fromkeys(keys), "note": str(e)}
    out: dict[str, Any] = {
        "broker_cpu_peak_cores": round(max(cpu.values()), 4) if cpu else None,
        "broker_memory_peak_bytes": int(max(mem.values())) if mem else None,
        "broker_cpu_seconds": round(sum(cpu_s.values()), 4) if cpu_s else None,
        "broker_disk_written_bytes": int(sum(written.values())) if written else None,
        "broker_gc_seconds": round(gc, 4) if gc is not None else None,
    }
    if not cpu and not mem:
        out["note"] = "no broker series in Prometheus (is the exporter running?)"
    return out


def _brokers(runner: QueryRunner, query: str, window: Window) -> dict[str, float]:
    return {n: v for n, v in runner.by_name(query, window).items() if is_broker(n)}
