"""Run records + Prometheus query results -> the context the templates render.

The run record says which runs happened, when (the window) and what was measured
exactly in-process; Prometheus says what it scraped over that window. Both go
into the context side by side so the report can cross-check them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaos.checker import group_bound, offset_anomalies
from kafkaval.environment import machine
from kafkaval.records import parse_iso
from kafkaval.redact import redact_props
from report.brokers import broker_side, cluster_view, resources
from report.queries import QueryRunner, Window

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


def _not_checked(checks: list[dict[str, Any]], runner: QueryRunner) -> list[dict[str, Any]]:
    """Cross-check rows as they are, or marked "not checked" in a record-only report."""
    if not runner.record_only:
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


# One entry of a run record (a profile, a scenario) -> its part of the context.
EntryContext = Callable[[str, dict[str, Any], QueryRunner, Window, bool], dict[str, Any]]
# Chart name -> (promql query name, quantile or "").
ChartQueries = dict[str, tuple[str, str]]

PROFILE_CHARTS: ChartQueries = {
    "acked_rate": ("acked_rate_series", ""),
    "target_rate": ("target_rate_series", ""),
    "service_p99": ("service_quantile_series", "0.99"),
    "service_p50": ("service_quantile_series", "0.5"),
    "e2e_p99": ("e2e_quantile_series", "0.99"),
}
RUN_CHARTS: ChartQueries = {"cpu": ("cpu_series", ""), "memory": ("memory_series", "")}
SCENARIO_CHARTS: ChartQueries = {
    "acked_rate": ("d_acked_rate_series", ""),
    "ack_p50": ("d_ack_quantile_series", "0.5"),
    "ack_p99": ("d_ack_quantile_series", "0.99"),
    "fault": ("d_fault_series", ""),
}


def _collect(
    kind: str,
    entries: str,
    entry_context: EntryContext,
    record: dict[str, Any],
    runner: QueryRunner,
    charts: bool,
    fallback_env: dict[str, Any] | None,
) -> tuple[dict[str, Any], Window]:
    """The context both reports share, ``entries`` (``record[entries]``, each through
    ``entry_context`` over its own window) included, and the whole run's window.

    Raises:
        PrometheusError: unreachable, a query rejected, or no data in the run's window.
    """
    run_window = Window.of(record, None, runner.scrape_interval)
    runner.require_data(run_window, f"{kind} run {record.get('run_id', '?')}")
    items = []
    for key, entry in (record.get(entries) or {}).items():
        w = Window.of(entry, run_window, runner.scrape_interval)
        items.append(entry_context(key, entry, runner, w, charts))
    context: dict[str, Any] = {
        "run": _run_summary(record, run_window),
        "record_only": runner.record_only,
        "environment": environment(record, fallback_env),
        entries: items,
    }
    return context, run_window


def _charts(
    runner: QueryRunner, w: Window, queries: ChartQueries, **sel: str
) -> dict[str, list[dict[str, Any]]]:
    return {name: runner.series(query, w, q=q, **sel) for name, (query, q) in queries.items()}


def _window_row(w: Window) -> dict[str, Any]:
    return {"start": w.start, "end": w.end, "seconds": w.seconds}


def collect_performance(
    record: dict[str, Any],
    runner: QueryRunner,
    charts: bool = True,
    fallback_env: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The context of performance-baseline.md.

    Raises:
        PrometheusError: unreachable, a query rejected, or no data in the run's window.
    """
    context, run_window = _collect(
        "performance", "profiles", _profile, record, runner, charts, fallback_env
    )
    context["resources"] = resources(runner, run_window)
    if charts:
        context["series"] = _charts(runner, run_window, RUN_CHARTS)
    return context


def _profile(
    name: str, entry: dict[str, Any], runner: QueryRunner, w: Window, charts: bool
) -> dict[str, Any]:
    sel = {"profile": name}
    prom = {k: runner.scalar(k, w, **sel) for k in (*PERF_TOTALS, "target_rate", "max_lag")}
    latency = {}
    for kind, (query, field) in LATENCY_KINDS.items():
        exact = entry.get(field) or {}
        latency[kind] = {
            "prometheus": {p: runner.scalar(query, w, q=q, **sel) for p, q in QUANTILES.items()},
            "exact": {p: exact.get(p) for p in (*QUANTILES, "max")},
        }
    send_delay_p99 = runner.scalar("send_delay_quantile", w, q="0.99", **sel)
    outbuf_max = runner.scalar("outbuf_latency_max", w, **sel)
    checks = [
        _crosscheck(k, prom[k], record_total(entry, k), _MISSED) for k in PERF_TOTALS if k in entry
    ]
    # The message totals shown: Prometheus's, or the record's when it is all there is.
    totals = {k: record_total(entry, k) for k in PERF_TOTALS} if runner.record_only else prom
    profile: dict[str, Any] = {
        "name": name,
        "passed": entry.get("passed"),
        "window": _window_row(w),
        "record": entry,
        "target_rate": entry.get("target_rate", prom["target_rate"]),
        "achieved_rate": entry.get("achieved_rate"),
        "prom": prom,
        "totals": totals,
        "latency": latency,
        "send_delay_p99": send_delay_p99,
        "outbuf_latency_max": outbuf_max,
        "thresholds": threshold_rows(entry.get("thresholds") or {}),
        "resources": resources(runner, w),
        "broker": broker_side(runner, w, latency["service"]["prometheus"].get("p50")),
        "crosscheck": _not_checked(checks, runner),
    }
    if charts:
        profile["series"] = _charts(runner, w, PROFILE_CHARTS, **sel)
    return profile


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
    runner: QueryRunner,
    charts: bool = True,
    fallback_env: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The context of delivery-guarantees.md.

    Raises:
        PrometheusError: unreachable, a query rejected, or no data in the run's window.
    """
    context, _ = _collect("delivery", "scenarios", _scenario, record, runner, charts, fallback_env)
    return context


def _scenario(
    key: str, entry: dict[str, Any], runner: QueryRunner, w: Window, charts: bool
) -> dict[str, Any]:
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
        prom = {k: runner.scalar(q, w, **sel) for k, q in totals.items()}
        checks = [_crosscheck(k, prom[k], entry.get(k), _MISSED) for k in totals]
    else:
        checks = [_not_in_prometheus(entry)]
    scenario: dict[str, Any] = {
        "key": key,
        "name": sel["scenario"],
        "cluster": entry.get("cluster", "?"),
        "passed": entry.get("passed"),
        "record": entry,
        "window": _window_row(w),
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
        "crosscheck": _not_checked(checks, runner),
        "statement": guarantee_statement(entry),
    }
    if charts:
        scenario["series"] = _charts(runner, w, SCENARIO_CHARTS, **sel)
    return scenario


def _count(name: str, value: Any, bound: Any) -> dict[str, Any]:
    ok = None if bound is None or value is None else value <= bound
    return {"name": name, "value": value, "bound": bound, "ok": ok}


def _missing(groups: dict[str, dict[str, Any]]) -> int | None:
    """Acked messages the groups never got, summed; None (not measured) without every count."""
    values = [g.get("missing") for g in groups.values()]
    if not values or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


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
