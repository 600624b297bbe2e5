"""The summaries of a distributed run's workers merged into one load result.

The result has the fields of ``loadgen.results.load_result`` (a local run's),
so thresholds, the run record and the reports do not tell the two apart.
Counts are exact sums; latency percentiles come from the merged histograms
(``loadgen.mergeable_hist``, within its stated bound); end-to-end latency and
the consumed count come from the driver's own consumer, as in a local run.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from kafkaval.pacing import Phase
from loadgen import profiles as prof
from loadgen.mergeable_hist import MergeableHistogram, unpack
from loadgen.recorder import summarize_us
from loadgen.workers import sum_errors

# The latencies the workers record as histograms (end-to-end is the driver's consumer's).
HIST_FIELDS = ("service_latency_seconds", "send_delay_seconds", "response_latency_seconds")


def merge_summaries(
    spec: prof.ProfileSpec,
    phases: tuple[Phase, ...],
    summaries: list[dict[str, Any]],
    consumer: Any,
) -> dict[str, Any]:
    """The fields of ``loadgen.results.load_result`` from the workers' summaries.

    Counts are sums; latencies the merged histograms; rates and durations use
    the workers' wall-clock bounds (clocks in sync, as for end-to-end latency).
    Burst recovery and sustained drift are the worst worker's (each worker saw
    its share of the burst). The end-to-end latency, consumed count and drain
    come from ``consumer`` (this process's), as in a local run.
    """
    hists = {f: MergeableHistogram() for f in HIST_FIELDS}
    for s in summaries:
        for f in HIST_FIELDS:
            hists[f].merge(MergeableHistogram.from_json(s["histograms"][f]))
    m = [s["phases"][spec.measured] for s in summaries] if phases else []
    target = phases[spec.measured].rate if phases else None
    m_sent = sum(p["sent"] for p in m)
    m_acked = sum(p["acked"] for p in m)

    def bound(rows: list[dict[str, Any]], key: str, pick: Any) -> int | None:
        vals = [r[key] for r in rows if r.get(key) is not None]
        return pick(vals) if vals else None

    achieved = None
    if target is not None and m_sent:
        span = (bound(m, "last_sent_us", max) - bound(m, "first_intended_us", min)) / 1e6  # type: ignore[operator]
        achieved = m_sent / (span + 1.0 / target)
    elif m_acked > 1:
        span = (bound(m, "last_acked_us", max) - bound(m, "first_sent_us", min)) / 1e6  # type: ignore[operator]
        achieved = m_acked / span if span > 0 else None
    every = [p for s in summaries for p in s["phases"]]
    first_sent, last_acked = bound(every, "first_sent_us", min), bound(every, "last_acked_us", max)
    acked = sum(s["acked"] for s in summaries)
    drain_s = None
    if consumer is not None and last_acked is not None:
        if consumer.drain(acked, 30 + sum(p.count for p in phases) / 5000):
            consumed_wall = time.time() - (time.monotonic() - consumer.last_consume_mono)
            drain_s = max(0.0, consumed_wall - last_acked / 1e6)
    e2e = (
        np.frombuffer(consumer.recorder.e2e_done, dtype=np.int64)
        if consumer is not None
        else np.zeros(0, dtype=np.int64)
    )
    out: dict[str, Any] = {
        "target_rate": target,
        "achieved_rate": achieved,
        "sent": sum(s["sent"] for s in summaries),
        "acked": acked,
        "failed": sum(s["failed"] for s in summaries),
        "consumed": consumer.consumed if consumer is not None else 0,
        "duplicates_consumed": consumer.recorder.duplicates if consumer is not None else 0,
        "messages_planned": int(sum(p.count for p in phases)),
        **{f: hists[f].summary() for f in HIST_FIELDS},
        "e2e_latency_seconds": summarize_us(e2e),
        "produce_seconds": (last_acked - first_sent) / 1e6
        if first_sent is not None and last_acked is not None
        else None,
        "drain_seconds": drain_s,
        "loadgen_max_rss_bytes": max(s["max_rss_bytes"] for s in summaries),
        "worker_results": [_worker_row(s) for s in summaries],
    }
    if consumer is not None and all("acked_ids" in s for s in summaries):
        # A summary without them leaves the figures unmeasured: their checks fail.
        out.update(
            consumer.id_mismatch({s["worker"]: unpack(s["acked_ids"]) == 1 for s in summaries})
        )
    if spec.name == "burst" and len(phases) == 3:
        rec = [s["own"].get("recovery_seconds") for s in summaries]
        out["recovery_seconds"] = None if any(r is None for r in rec) else max(rec)
    if spec.name == "sustained":
        drifts = [s["own"].get("drift") or {} for s in summaries]
        keys = {k for d in drifts for k in d}
        out["drift"] = {
            k: max((d[k] for d in drifts if d.get(k) is not None), default=None) for k in keys
        }
    errors = sum_errors(s["errors"] for s in summaries)
    if errors:
        out["client_errors"] = errors
    return out


def _worker_row(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "worker": s["worker"],
        "host": s["host"],
        "sent": s["sent"],
        "acked": s["acked"],
        "failed": s["failed"],
        "achieved_rate": s["own"].get("achieved_rate"),
        "service_p99_seconds": s.get("own_service_p99_seconds"),
        "cpu_seconds": s["cpu_seconds"],
        "max_rss_bytes": s["max_rss_bytes"],
    }
