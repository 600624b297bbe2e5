"""The delivery report's context: per scenario, the counts against their bounds,
the faults, the cluster's view and the guarantee observed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.checker import group_bound, offset_anomalies
from kafkaval.prom_queries import QueryRunner, Window
from kafkaval.record_types import DeliveryRecord, FaultEntry, GroupEntry, ScenarioEntry
from kafkaval.records import parse_iso
from report.brokers import cluster_view
from report.collect import (
    MISSED,
    ChartQueries,
    chart_series,
    collect_run,
    crosscheck,
    not_checked,
    window_row,
)

# Totals where Prometheus and the run record must agree exactly.
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

SCENARIO_CHARTS: ChartQueries = {
    "acked_rate": ("d_acked_rate_series", ""),
    "ack_p50": ("d_ack_quantile_series", "0.5"),
    "ack_p99": ("d_ack_quantile_series", "0.99"),
    "fault": ("d_fault_series", ""),
}


def _not_in_prometheus(entry: ScenarioEntry) -> dict[str, Any]:
    return {
        "what": "all",
        "prometheus": None,
        "record": entry.get("acked"),
        "ok": None,
        "cause": f"not published to Prometheus; exact counts from the {entry.get('source', '?')}",
    }


def collect_delivery(
    record: DeliveryRecord,
    runner: QueryRunner,
    charts: bool = True,
    fallback_env: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The context of delivery-guarantees.md.

    Raises:
        PrometheusError: unreachable, a query rejected, or no data in the run's window.
    """
    scenarios = record.get("scenarios") or {}
    context, _ = collect_run(
        "delivery", "scenarios", scenarios, _scenario, record, runner, charts, fallback_env
    )
    return context


def _scenario(
    key: str, entry: ScenarioEntry, runner: QueryRunner, w: Window, charts: bool
) -> dict[str, Any]:
    counted: Mapping[str, Any] = entry  # its counts by a name chosen at run time
    # The chaos metrics label each series with the scenario's record key.
    sel = {"scenario": key}
    bounds = entry.get("bounds") or {}
    counts = []
    for field in DELIVERY_COUNTS:
        counts.append(_count(field, counted.get(field), bounds.get(field)))
    groups = entry.get("groups") or {}
    for group, g in groups.items():
        for field in GROUP_COUNTS:
            bound = group_bound(bounds, field, group)
            if bound is None and field != "redeliveries":
                bound = 0  # an anomaly class without a stated bound allows none (as judged)
            counts.append(_count(f"{field} ({group})", _group_count(g, field), bound))
    # Which totals Prometheus has for this entry, and under which query: the
    # chaos counters, or what another source published (the CDC run's).
    totals = entry.get("prometheus_totals", DELIVERY_TOTALS)
    if totals:
        prom = {k: runner.scalar(q, w, **sel) for k, q in totals.items()}
        checks = [crosscheck(k, prom[k], counted.get(k), MISSED) for k in totals]
    else:
        checks = [_not_in_prometheus(entry)]
    scenario: dict[str, Any] = {
        "key": key,
        "name": sel["scenario"],
        "cluster": entry.get("cluster", "?"),
        "passed": entry.get("passed"),
        "record": entry,
        "window": window_row(w),
        "counts": counts,
        "missing": _missing(groups),
        "offset_anomalies": offset_anomalies(entry),
        # Numbers only: id lists (missing_ids ...) belong in the record, not a table.
        "groups": {
            g: {k: v for k, v in counts.items() if isinstance(v, int | float)}
            for g, counts in (entry.get("groups") or {}).items()
        },
        "faults": [_fault_row(f, w) for f in entry.get("faults") or []],
        "cluster_view": cluster_view(runner, w),
        "crosscheck": not_checked(checks, runner),
        "statement": guarantee_statement(entry),
    }
    if charts:
        scenario["series"] = chart_series(runner, w, SCENARIO_CHARTS, **sel)
    return scenario


def _count(name: str, value: Any, bound: Any) -> dict[str, Any]:
    ok = None if bound is None or value is None else value <= bound
    return {"name": name, "value": value, "bound": bound, "ok": ok}


def _group_count(g: GroupEntry, field: str) -> object:
    counts: Mapping[str, object] = g
    return counts.get(field)


def _missing(groups: Mapping[str, GroupEntry]) -> int | None:
    """Acked messages the groups never got, summed; None (not measured) without every count."""
    values = [g.get("missing") for g in groups.values()]
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def _fault_row(fault: FaultEntry, w: Window) -> dict[str, Any]:
    def offset(text: str | None) -> float | None:
        return (parse_iso(text) - w.start).total_seconds() if text else None

    return {
        **fault,
        "start_offset": offset(fault.get("started_at")),
        "end_offset": offset(fault.get("ended_at")),
    }


def guarantee_statement(entry: ScenarioEntry) -> str:
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
