"""What the brokers and the machine did over a window, from Prometheus.

Per container/process resources, the brokers' own view of a performance
profile (one row per broker, where Produce time went) and of a delivery
scenario (URP, ISR changes, leaders, controller).
"""

from __future__ import annotations

from typing import Any

from kafkaval import promql
from kafkaval.prom_queries import QueryRunner, Window

# Below this share of the samples its span should hold, a row's figures are
# named as resting on a gappy series (one missed scrape in ten is noise).
MIN_SAMPLE_SHARE = 0.9


def resources(runner: QueryRunner, window: Window) -> list[dict[str, Any]]:
    """Per container/process: CPU average and peak, memory peak, disk write, network.

    ``gaps`` is set on a row whose series holds fewer than MIN_SAMPLE_SHARE of
    the samples its span should (scrape gaps: a restarted Prometheus or
    exporter, a scrape that timed out): its figures rest on fewer samples, and
    the report says so next to them.
    """
    columns = {
        "cpu_avg": runner.by_name("cpu_avg", window),
        "cpu_peak": runner.by_name("cpu_peak", window),
        "memory_peak": runner.by_name("memory_peak", window),
        "disk_write_rate": runner.by_name("disk_write_rate", window),
        "network_rate": runner.by_name("network_rate", window),
    }
    samples = runner.by_name("cpu_samples", window)
    spans = runner.by_name("cpu_span", window)
    names = sorted({n for col in columns.values() for n in col})
    rows = []
    for n in names:
        row: dict[str, Any] = {"name": n, **{k: col.get(n) for k, col in columns.items()}}
        row["gaps"] = sample_gaps(samples.get(n), spans.get(n), runner.scrape_interval)
        rows.append(row)
    return rows


def sample_gaps(samples: float | None, span: float | None, interval: float) -> str:
    """ "N of M samples" when a series holds too few for its span; "" otherwise."""
    if samples is None or span is None or interval <= 0:
        return ""
    # The span's first sample may sit up to one interval before the window,
    # where the count does not see it: one interval of slack.
    expected = round(span / interval)
    if samples >= MIN_SAMPLE_SHARE * expected:
        return ""
    return f"{samples:.0f} of {expected} samples"


BROKER_MISSING = (
    "not measured: Prometheus holds no series of the brokers' JMX exporter (job kafka-broker) "
    "in this window; the brokers ran without the agent (jmx_port = 0, or its jar could not be "
    "fetched) or this Prometheus does not scrape them"
)
# Produce phases for the "where the time went" sentence, as the reader knows them.
_PHASE_WORDS = {
    "requestqueuetimems": "waiting for a request handler (broker queueing)",
    "localtimems": "appending on the leader (disk)",
    "remotetimems": "waiting for followers (replication, acks=all)",
    "responsequeuetimems": "waiting for a network thread",
    "responsesendtimems": "sending the response",
}


def broker_side(runner: QueryRunner, window: Window, client_p50: float | None) -> dict[str, Any]:
    """The brokers' view of ``window``: one row per broker, and where Produce time went.

    Each figure is None when Prometheus has no value for it (shown as "—"); with
    no broker series at all, ``missing`` says so instead of any row.
    """
    scraped = runner.by_label("b_scraped", window, "instance")
    if not scraped:
        return {"rows": [], "missing": BROKER_MISSING, "where": ""}
    columns = {
        f"{phase}_p99": runner.by_label(f"b_{phase}_p99", window, "instance")
        for phase in ("totaltimems", "requestqueuetimems", "localtimems", "remotetimems")
    }
    for key in ("handler_idle", "bytes_in", "gc"):
        columns[key] = runner.by_label(f"b_{key}", window, "instance")
    columns["urp_max"] = runner.by_label("b_urp_max", window, "instance")
    means = {
        phase: runner.by_label(f"b_{phase}_mean", window, "instance")
        for phase in promql.BROKER_PHASES
    }
    rows = [
        {"instance": b, **{k: col.get(b) for k, col in columns.items()}} for b in sorted(scraped)
    ]
    return {
        "rows": rows,
        "missing": "",
        "where": where_time_went(means, client_p50),
        "mean_ms": {phase: _avg(m) for phase, m in means.items()},
    }


def _avg(values: dict[str, float]) -> float | None:
    return sum(values.values()) / len(values) if values else None


def where_time_went(means: dict[str, dict[str, float]], client_p50: float | None) -> str:
    """One sentence on where a Produce spent its time on the brokers, from Kafka's mean phases.

    The phases are averaged over the brokers; the client's service p50 (seconds)
    minus the broker's total is time outside the broker (client queue, network).
    """

    total = _avg(means.get("totaltimems", {}))
    parts = {phase: _avg(means.get(phase, {})) for phase in _PHASE_WORDS}
    known = {k: v for k, v in parts.items() if v is not None}
    if total is None or len(known) < len(parts):
        return "Where the time went: not measured (no Produce request times from the brokers)."
    if total <= 0:
        return "Where the time went: no Produce requests reached the brokers in this window."
    shares = sorted(known.items(), key=lambda kv: kv[1], reverse=True)
    top = ", ".join(f"{v / total:.0%} {_PHASE_WORDS[k]}" for k, v in shares[:3])
    text = f"Where the time went: a Produce took {total:.2f} ms on the brokers on average: {top}."
    if client_p50 is not None:
        outside = client_p50 * 1000 - total
        if outside > 0:
            text += (
                f" The client's median service time was {client_p50 * 1000:.2f} ms, so about "
                f"{outside:.2f} ms of it was spent outside the brokers (client queue, network)."
            )
    return text


def cluster_view(runner: QueryRunner, window: Window) -> dict[str, Any]:
    """What the brokers saw during a scenario: URP, ISR changes, leaders, controller.

    ``missing`` is set (and nothing else) when Prometheus has no broker series in
    the window; URP times are seconds from the window's start.
    """
    up = runner.series("c_up_series", window)
    if not any(s["v"] for s in up):
        return {"missing": BROKER_MISSING}
    urp = runner.series("c_urp_series", window)
    t, v = (urp[0]["t"], urp[0]["v"]) if urp else ([], [])
    peak = max(v) if v else None
    first = next((ti for ti, vi in zip(t, v, strict=True) if vi > 0), None)
    healed = None
    if first is not None:
        last_bad = max(ti for ti, vi in zip(t, v, strict=True) if vi > 0)
        healed = next((ti for ti, vi in zip(t, v, strict=True) if ti > last_bad and vi == 0), None)
    return {
        "missing": "",
        "brokers_min": min(min(s["v"]) for s in up if s["v"]),
        "brokers_max": max(max(s["v"]) for s in up if s["v"]),
        "urp_peak": peak,
        "urp_first": first,
        "urp_healed": healed,
        "isr_shrinks": runner.scalar("c_isr_shrinks", window),
        "isr_expands": runner.scalar("c_isr_expands", window),
        "leader_changes": runner.scalar("c_leader_changes", window),
        "controller_changes": runner.scalar("c_controller_changes", window),
    }
