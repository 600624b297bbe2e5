"""Run records + Prometheus query results -> the context the templates render.

The run record says which runs happened, when (the window) and what was measured
exactly in-process; Prometheus says what it scraped over that window. Both go
into the context side by side so the report can cross-check them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chaos.checker import group_bound, offset_anomalies
from kafkaval.environment import machine
from kafkaval.records import parse_iso
from kafkaval.redact import redact_props
from report import promql
from report.prom_client import PrometheusError, Sample, Series

QUANTILES = {"p50": "0.5", "p95": "0.95", "p99": "0.99", "p999": "0.999"}
LATENCY_KINDS = {
    "service": ("service_quantile", "service_latency_seconds"),
    "response": ("response_quantile", "response_latency_seconds"),
    "e2e": ("e2e_quantile", "e2e_latency_seconds"),
}
# Totals where Prometheus and the run record must agree exactly.
PERF_TOTALS = ("sent", "acked", "failed", "consumed")
DELIVERY_TOTALS = {
    "sent": "d_sent",
    "acked": "d_acked",
    "lost": "d_lost",
    "log_duplicates": "d_duplicates",
    "redeliveries": "d_redeliveries",
}
DELIVERY_COUNTS = (
    "acked",
    "lost",
    "log_duplicates",
    "redeliveries",
    "reordered",
    "failed",
    "failed_visible",
    "inconsistent_offsets",
    "foreign",
    "removed",
)
# Counted per consumer group, each against its ``<name>_per_group`` bound
# (chaos.checker defines them).
GROUP_COUNTS = (
    "missing",
    "unseen",
    "inconsistent_offsets",
    "nonmonotonic_poll",
    "poll_skip",
    "redeliveries",
)


class QuerySource(Protocol):
    """What collect needs from Prometheus (PromClient, or a fake in unit tests)."""

    def query(self, expr: str, at: datetime | float | None = None) -> list[Sample]: ...

    def query_range(
        self,
        expr: str,
        start: datetime | float,
        end: datetime | float,
        step: float | None = None,
        min_step: float = 1.0,
    ) -> list[Series]: ...


@dataclass(frozen=True)
class Window:
    """The time range a run (or one profile of it) is reported over.

    ``end`` is padded past the recorded end by two scrape intervals: processes
    stay up one interval after their work so the final values are scraped, and
    that scrape lands after the recorded end.
    """

    start: datetime
    end: datetime
    scrape_interval: float

    @classmethod
    def of(cls, entry: dict[str, Any], fallback: Window | None, scrape_interval: float) -> Window:
        if entry.get("started_at") and entry.get("ended_at"):
            start, end = parse_iso(entry["started_at"]), parse_iso(entry["ended_at"])
            pad = timedelta(seconds=2 * scrape_interval + 1)
            return cls(start, end + pad, scrape_interval)
        if fallback is None:
            raise PrometheusError("run record has no started_at/ended_at: cannot find its window")
        return fallback

    @property
    def seconds(self) -> float:
        return max(1.0, (self.end - self.start).total_seconds())

    def params(self, **labels: str) -> dict[str, str]:
        """Placeholder values of promql templates for this window."""
        return {
            "sel": promql.matchers(**labels),
            "window": promql.duration(self.seconds),
            # rate() needs at least two samples: four scrape intervals is robust to one miss.
            "rate": promql.duration(max(4 * self.scrape_interval, 4)),
            "step": promql.duration(self.scrape_interval),
        }


class WindowEmpty(PrometheusError):
    """Prometheus answers but holds nothing of a run's window (retention, another server)."""


class Collector:
    """Runs the named queries of one window and keeps what came back.

    Args:
        source: Prometheus (anything with ``query`` and ``query_range``).
        scrape_interval: seconds between scrapes; sets padding, rate ranges and steps.
    """

    # Why the report is built without Prometheus (RecordOnlyCollector); None: with it.
    record_only: str | None = None

    def __init__(self, source: QuerySource, scrape_interval: float) -> None:
        self.source = source
        self.scrape_interval = scrape_interval
        self.samples_seen = 0

    def scalar(self, name: str, window: Window, q: str = "", **labels: str) -> float | None:
        """The single value of an aggregating query, None when Prometheus has no data."""
        params = window.params(**labels)
        if q:
            params["q"] = q
        result = self.source.query(promql.render(name, **params), at=window.end)
        values = [s.value for s in result if not math.isnan(s.value)]
        self.samples_seen += len(values)
        return values[0] if values else None

    def by_name(self, name: str, window: Window, **labels: str) -> dict[str, float]:
        """``{name label: value}`` of a ``by (name)`` query."""
        return self.by_label(name, window, "name", **labels)

    def by_label(self, name: str, window: Window, label: str, **labels: str) -> dict[str, float]:
        """``{value of label: value}`` of a ``by (label)`` query (NaN results left out)."""
        result = self.source.query(promql.render(name, **window.params(**labels)), at=window.end)
        self.samples_seen += len(result)
        return {s.labels.get(label, "?"): s.value for s in result if not math.isnan(s.value)}

    def series(self, name: str, window: Window, q: str = "", **labels: str) -> list[dict[str, Any]]:
        """Range query: ``[{"labels", "t": [seconds since window start], "v": [...]}]``."""
        params = window.params(**labels)
        if q:
            params["q"] = q
        result = self.source.query_range(
            promql.render(name, **params), window.start, window.end, min_step=self.scrape_interval
        )
        t0 = window.start.timestamp()
        return [
            {
                "labels": s.labels,
                "t": [t - t0 for t, v in s.points if not math.isnan(v)],
                "v": [v for t, v in s.points if not math.isnan(v)],
            }
            for s in result
        ]

    def require_data(self, window: Window, what: str) -> None:
        """Fail when Prometheus holds no kafkaval series at all over ``window``.

        Raises:
            WindowEmpty: the window is empty (wrong Prometheus, expired retention,
                or nothing scraped the run).
        """
        span = promql.duration(window.seconds)
        # count() first: range functions drop __name__, which would collide series.
        step = promql.duration(window.scrape_interval)
        expr = f'max_over_time(count({{__name__=~"kafkaval_.+"}})[{span}:{step}])'
        if not self.source.query(expr, at=window.end):
            raise WindowEmpty(
                f"Prometheus has no kafkaval data for {what} between "
                f"{window.start:%Y-%m-%d %H:%M:%S} and {window.end:%H:%M:%S} UTC: "
                "was it scraping the run (retention, --prometheus-url)?"
            )


class _NoData:
    """A query source without any series (any query, any window)."""

    def query(self, *args: Any, **kwargs: Any) -> list[Sample]:
        return []

    def query_range(self, *args: Any, **kwargs: Any) -> list[Series]:
        return []


class RecordOnlyCollector(Collector):
    """A collector for a run whose window Prometheus no longer holds.

    Every query answers "no data", so the report shows the run record's exact
    figures alone; the context carries ``record_only`` (the reason) and the
    templates say so at the top, and the cross-check rows read "not checked".
    """

    def __init__(self, reason: str, scrape_interval: float) -> None:
        super().__init__(_NoData(), scrape_interval)
        self.record_only = reason

    def require_data(self, window: Window, what: str) -> None:
        return None


def _not_checked(checks: list[dict[str, Any]], collector: Collector) -> list[dict[str, Any]]:
    """Cross-check rows as they are, or marked "not checked" in a record-only report."""
    if not collector.record_only:
        return checks
    return [
        {**c, "ok": None, "cause": "not checked: report from the run record only"} for c in checks
    ]


def _crosscheck(what: str, prom: float | None, record: Any, note: str) -> dict[str, Any]:
    exact = record if isinstance(record, int | float) else None
    ok = prom is not None and exact is not None and round(prom) == round(exact)
    cause = ""
    if not ok:
        if prom is None:
            cause = "no series in Prometheus (metric not exposed, or never scraped)"
        elif exact is None:
            cause = "not in the run record"
        elif prom < exact:
            cause = note
        else:
            cause = "Prometheus counted more: a process reused across runs, or two runs overlap"
    return {"what": what, "prometheus": prom, "record": exact, "ok": ok, "cause": cause}


def _not_in_prometheus(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "what": "all",
        "prometheus": None,
        "record": entry.get("acked"),
        "ok": None,
        "cause": f"not published to Prometheus; exact counts from the {entry.get('source', '?')}",
    }


_MISSED = "Prometheus lower: the final scrape was missed (process exited too early) or a scrape gap"


def resources(collector: Collector, window: Window) -> list[dict[str, Any]]:
    """Per container/process: CPU average and peak, memory peak, disk write, network."""
    columns = {
        "cpu_avg": collector.by_name("cpu_avg", window),
        "cpu_peak": collector.by_name("cpu_peak", window),
        "memory_peak": collector.by_name("memory_peak", window),
        "disk_write_rate": collector.by_name("disk_write_rate", window),
        "network_rate": collector.by_name("network_rate", window),
    }
    names = sorted({n for col in columns.values() for n in col})
    return [{"name": n, **{k: col.get(n) for k, col in columns.items()}} for n in names]


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


def broker_side(collector: Collector, window: Window, client_p50: float | None) -> dict[str, Any]:
    """The brokers' view of ``window``: one row per broker, and where Produce time went.

    Each figure is None when Prometheus has no value for it (shown as "—"); with
    no broker series at all, ``missing`` says so instead of any row.
    """
    scraped = collector.by_label("b_scraped", window, "instance")
    if not scraped:
        return {"rows": [], "missing": BROKER_MISSING, "where": ""}
    columns = {
        f"{phase}_p99": collector.by_label(f"b_{phase}_p99", window, "instance")
        for phase in ("totaltimems", "requestqueuetimems", "localtimems", "remotetimems")
    }
    for key in ("handler_idle", "bytes_in", "gc"):
        columns[key] = collector.by_label(f"b_{key}", window, "instance")
    columns["urp_max"] = collector.by_label("b_urp_max", window, "instance")
    means = {
        phase: collector.by_label(f"b_{phase}_mean", window, "instance")
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


def collect_performance(
    record: dict[str, Any],
    collector: Collector,
    charts: bool = True,
    fallback_env: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The context of performance-baseline.md.

    Raises:
        PrometheusError: unreachable, a query rejected, or no data in the run's window.
    """
    run_window = Window.of(record, None, collector.scrape_interval)
    collector.require_data(run_window, f"performance run {record.get('run_id', '?')}")
    profiles = []
    for name, entry in (record.get("profiles") or {}).items():
        w = Window.of(entry, run_window, collector.scrape_interval)
        sel = {"profile": name}
        prom = {k: collector.scalar(k, w, **sel) for k in (*PERF_TOTALS, "target_rate", "max_lag")}
        latency = {}
        for kind, (query, field) in LATENCY_KINDS.items():
            exact = entry.get(field) or {}
            latency[kind] = {
                "prometheus": {
                    p: collector.scalar(query, w, q=q, **sel) for p, q in QUANTILES.items()
                },
                "exact": {p: exact.get(p) for p in (*QUANTILES, "max")},
            }
        send_delay_p99 = collector.scalar("send_delay_quantile", w, q="0.99", **sel)
        outbuf_max = collector.scalar("outbuf_latency_max", w, **sel)
        checks = [
            _crosscheck(k, prom[k], record_total(entry, k), _MISSED)
            for k in PERF_TOTALS
            if k in entry
        ]
        # The message totals shown: Prometheus's, or the record's when it is all there is.
        totals = {k: record_total(entry, k) for k in PERF_TOTALS} if collector.record_only else prom
        profile: dict[str, Any] = {
            "name": name,
            "passed": entry.get("passed"),
            "window": {"start": w.start, "end": w.end, "seconds": w.seconds},
            "record": entry,
            "target_rate": entry.get("target_rate", prom["target_rate"]),
            "achieved_rate": entry.get("achieved_rate"),
            "prom": prom,
            "totals": totals,
            "latency": latency,
            "send_delay_p99": send_delay_p99,
            "outbuf_latency_max": outbuf_max,
            "thresholds": threshold_rows(entry.get("thresholds") or {}),
            "resources": resources(collector, w),
            "broker": broker_side(collector, w, latency["service"]["prometheus"].get("p50")),
            "crosscheck": _not_checked(checks, collector),
        }
        if charts:
            profile["series"] = {
                "acked_rate": collector.series("acked_rate_series", w, **sel),
                "target_rate": collector.series("target_rate_series", w, **sel),
                "service_p99": collector.series("service_quantile_series", w, q="0.99", **sel),
                "service_p50": collector.series("service_quantile_series", w, q="0.5", **sel),
                "e2e_p99": collector.series("e2e_quantile_series", w, q="0.99", **sel),
            }
        profiles.append(profile)
    context: dict[str, Any] = {
        "run": _run_summary(record, run_window),
        "record_only": collector.record_only,
        "environment": environment(record, fallback_env),
        "profiles": profiles,
        "resources": resources(collector, run_window),
    }
    if charts:
        context["series"] = {
            "cpu": collector.series("cpu_series", run_window),
            "memory": collector.series("memory_series", run_window),
        }
    return context


def record_total(entry: dict[str, Any], key: str) -> Any:
    """The record's total of ``key`` over every repetition (Prometheus counts them all).

    With REPEAT=N the profile shows the median repetition's figures, while the
    process's counters add the N repetitions up.
    """
    reps = entry.get("repetitions") or []
    if len(reps) > 1 and all(isinstance(r.get(key), int | float) for r in reps):
        return sum(r[key] for r in reps)
    return entry.get(key)


def threshold_rows(thresholds: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the threshold table from a record's ``thresholds``.

    A threshold is either a plain limit (``"p95_service_ms": 100``) or a dict
    with ``limit``, ``value``/``actual`` and ``passed`` (and the ``expr`` it
    judged, shown after a name that is not the expression itself); both are
    shown as given.
    """
    rows = []
    for key, spec in thresholds.items():
        if isinstance(spec, dict):
            expr = spec.get("expr")
            rows.append(
                {
                    "name": key if not expr or expr == key else f"{key}: `{expr}`",
                    "limit": spec.get("limit", spec.get("max", spec.get("min"))),
                    "value": spec.get("value", spec.get("actual")),
                    "passed": spec.get("passed"),
                }
            )
        else:
            rows.append({"name": key, "limit": spec, "value": None, "passed": None})
    return rows


def collect_delivery(
    record: dict[str, Any],
    collector: Collector,
    charts: bool = True,
    fallback_env: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The context of delivery-guarantees.md.

    Raises:
        PrometheusError: unreachable, a query rejected, or no data in the run's window.
    """
    run_window = Window.of(record, None, collector.scrape_interval)
    collector.require_data(run_window, f"delivery run {record.get('run_id', '?')}")
    scenarios = []
    for key, entry in (record.get("scenarios") or {}).items():
        w = Window.of(entry, run_window, collector.scrape_interval)
        # The chaos metrics label each series with the scenario's record key.
        sel = {"scenario": key}
        bounds = entry.get("bounds") or {}
        counts = []
        for field in DELIVERY_COUNTS:
            counts.append(_count(field, entry.get(field), bounds.get(field)))
        groups = entry.get("groups") or {}
        for group, g in groups.items():
            for field in GROUP_COUNTS:
                bound = group_bound(bounds, field, group)
                if bound is None and field != "redeliveries":
                    bound = 0  # an anomaly class without a stated bound allows none (as judged)
                counts.append(_count(f"{field} ({group})", g.get(field), bound))
        # Which totals Prometheus has for this entry, and under which query: the
        # chaos counters, or what another source published (the CDC run's).
        totals = entry.get("prometheus_totals", DELIVERY_TOTALS)
        if totals:
            prom = {k: collector.scalar(q, w, **sel) for k, q in totals.items()}
            checks = [_crosscheck(k, prom[k], entry.get(k), _MISSED) for k in totals]
        else:
            checks = [_not_in_prometheus(entry)]
        scenario: dict[str, Any] = {
            "key": key,
            "name": sel["scenario"],
            "cluster": entry.get("cluster", "?"),
            "passed": entry.get("passed"),
            "record": entry,
            "window": {"start": w.start, "end": w.end, "seconds": w.seconds},
            "counts": counts,
            "missing": _missing(groups),
            "offset_anomalies": offset_anomalies(entry),
            # Numbers only: id lists (missing_ids ...) belong in the record, not a table.
            "groups": {
                g: {k: v for k, v in counts.items() if isinstance(v, int | float)}
                for g, counts in (entry.get("groups") or {}).items()
            },
            "faults": [_fault_row(f, w) for f in entry.get("faults") or []],
            "cluster_view": cluster_view(collector, w),
            "crosscheck": _not_checked(checks, collector),
            "statement": guarantee_statement(entry),
        }
        if charts:
            scenario["series"] = {
                "acked_rate": collector.series("d_acked_rate_series", w, **sel),
                "ack_p50": collector.series("d_ack_quantile_series", w, q="0.5", **sel),
                "ack_p99": collector.series("d_ack_quantile_series", w, q="0.99", **sel),
                "fault": collector.series("d_fault_series", w, **sel),
            }
        scenarios.append(scenario)
    return {
        "run": _run_summary(record, run_window),
        "record_only": collector.record_only,
        "environment": environment(record, fallback_env),
        "scenarios": scenarios,
    }


def _count(name: str, value: Any, bound: Any) -> dict[str, Any]:
    ok = None if bound is None or value is None else value <= bound
    return {"name": name, "value": value, "bound": bound, "ok": ok}


def _missing(groups: dict[str, dict[str, Any]]) -> int | None:
    """Acked messages the groups never got, summed; None (not measured) without every count."""
    values = [g.get("missing") for g in groups.values()]
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def cluster_view(collector: Collector, window: Window) -> dict[str, Any]:
    """What the brokers saw during a scenario: URP, ISR changes, leaders, controller.

    ``missing`` is set (and nothing else) when Prometheus has no broker series in
    the window; URP times are seconds from the window's start.
    """
    up = collector.series("c_up_series", window)
    if not any(s["v"] for s in up):
        return {"missing": BROKER_MISSING}
    urp = collector.series("c_urp_series", window)
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
        "isr_shrinks": collector.scalar("c_isr_shrinks", window),
        "isr_expands": collector.scalar("c_isr_expands", window),
        "leader_changes": collector.scalar("c_leader_changes", window),
        "controller_changes": collector.scalar("c_controller_changes", window),
    }


def _fault_row(fault: dict[str, Any], w: Window) -> dict[str, Any]:
    def offset(key: str) -> float | None:
        text = fault.get(key)
        return (parse_iso(text) - w.start).total_seconds() if text else None

    return {**fault, "start_offset": offset("started_at"), "end_offset": offset("ended_at")}


def guarantee_statement(entry: dict[str, Any]) -> str:
    """The guarantee observed, in one plain sentence with its numbers.

    At-least-once holds only when nothing acked is lost from the log and every
    consumer group got every acked message (none ``missing``).
    """
    acked = entry.get("acked") or 0
    lost = entry.get("lost")
    groups = entry.get("groups") or {}
    redeliveries = entry.get("redeliveries")  # None: not measured (a CDC run has no groups)
    dups = entry.get("log_duplicates") or 0
    faults = sorted({f.get("kind", "fault") for f in entry.get("faults") or []})
    after = f" after the {', '.join(faults)}" if faults else ""
    if lost is None:
        return "no loss count in the run record: the guarantee cannot be stated"
    unmeasured = sorted(g for g, counts in groups.items() if counts.get("missing") is None)
    if unmeasured:
        return (
            f"no missing count for group {', '.join(unmeasured)} in the run record: "
            "the guarantee cannot be stated"
        )
    missed = {g: counts["missing"] for g, counts in groups.items() if counts["missing"]}
    held = "held" if lost == 0 and not missed else "VIOLATED"
    text = f"at-least-once {held}: {lost:,} of {acked:,} acked messages lost"
    for group, n in sorted(missed.items()):
        text += f"; group {group} never got {n:,} acked messages"
    if redeliveries is None:
        text += "; redeliveries not measured"
    else:
        text += f"; {redeliveries:,} redeliveries{after}"
    text += f"; {dups:,} log duplicates" if dups else "; no log duplicates"
    offsets = offset_anomalies(entry)
    if offsets:
        text += f"; {offsets:,} offset anomalies"
    return text


def _run_summary(record: dict[str, Any], w: Window) -> dict[str, Any]:
    return {
        "run_id": record.get("run_id", "?"),
        "started_at": record.get("started_at"),
        "ended_at": record.get("ended_at"),
        "quick": bool(record.get("quick")),
        "passed": record.get("passed"),
        "window_seconds": w.seconds,
        "tags": record.get("tags") or {},
    }


def environment(record: dict[str, Any], fallback: dict[str, Any] | None = None) -> dict[str, Any]:
    """Environment of the run: what the record says, then what its parameters imply,
    then ``fallback`` (the configuration at report time) and this machine's facts."""
    env = dict(record.get("environment") or {})
    if record.get("bootstrap_servers"):
        env.setdefault("bootstrap_servers", record["bootstrap_servers"])
    entries = list((record.get("profiles") or {}).values())
    params: dict[str, Any] = next(
        (e["parameters"] for e in entries if "partitions" in e.get("parameters", {})), {}
    )
    if params:
        env.setdefault(
            "topic",
            f"{params['partitions']} partitions, replication {params.get('replication_factor')}, "
            f"{params.get('record_size')} B records, {params.get('payload')} payload",
        )
        props = redact_props(params.get("producer_props") or {})
        env.setdefault(
            "client",
            ", ".join(f"{k}={v}" for k, v in sorted(props.items()))
            or "loadgen defaults (acks=all, enable.idempotence=true)",
        )
    for key, value in (fallback or {}).items():
        env.setdefault(key, value)
    if "cores" not in env or "memory_bytes" not in env:
        for k, v in machine().items():
            env.setdefault(k, v)
        env.setdefault("machine_note", "machine of the report, not recorded by the run")
    return env
