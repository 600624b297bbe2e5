"""The performance report's context: per profile, Prometheus's view next to the run record's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kafkaval.prom_queries import QueryRunner, Window
from kafkaval.record_types import PerformanceRecord, ProfileEntry, ProfileParameters
from report.brokers import broker_side, resources
from report.collect import (
    MISSED,
    ChartQueries,
    chart_series,
    collect_run,
    crosscheck,
    not_checked,
    window_row,
)

QUANTILES = {"p50": "0.5", "p95": "0.95", "p99": "0.99", "p999": "0.999"}
LATENCY_KINDS = {
    "service": ("service_quantile", "service_latency_seconds"),
    "response": ("response_quantile", "response_latency_seconds"),
    "e2e": ("e2e_quantile", "e2e_latency_seconds"),
}
# Totals where Prometheus and the run record must agree exactly.
PERF_TOTALS = ("sent", "acked", "failed", "consumed")

PROFILE_CHARTS: ChartQueries = {
    "acked_rate": ("acked_rate_series", ""),
    "target_rate": ("target_rate_series", ""),
    "service_p99": ("service_quantile_series", "0.99"),
    "service_p50": ("service_quantile_series", "0.5"),
    "e2e_p99": ("e2e_quantile_series", "0.99"),
}
RUN_CHARTS: ChartQueries = {"cpu": ("cpu_series", ""), "memory": ("memory_series", "")}


def collect_performance(
    record: PerformanceRecord,
    runner: QueryRunner,
    charts: bool = True,
    fallback_env: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The context of performance-baseline.md.

    Raises:
        PrometheusError: unreachable, a query rejected, or no data in the run's window.
    """
    profiles = record.get("profiles") or {}
    context, run_window = collect_run(
        "performance", "profiles", profiles, _profile, record, runner, charts, fallback_env,
        workload(profiles),
    )  # fmt: skip
    context["resources"] = resources(runner, run_window)
    if charts:
        context["series"] = chart_series(runner, run_window, RUN_CHARTS)
    return context


def workload(profiles: Mapping[str, ProfileEntry]) -> ProfileParameters | None:
    """The parameters of the first profile with a workload (a startup profile has none)."""
    return next(
        (e["parameters"] for e in profiles.values() if "partitions" in e.get("parameters", {})),
        None,
    )


def _profile(
    name: str, entry: ProfileEntry, runner: QueryRunner, w: Window, charts: bool
) -> dict[str, Any]:
    sel = {"profile": name}
    prom = {k: runner.scalar(k, w, **sel) for k in (*PERF_TOTALS, "target_rate", "max_lag")}
    latency: dict[str, dict[str, Any]] = {}
    for kind, (query, field) in LATENCY_KINDS.items():
        exact: Mapping[str, object] = _figures(entry).get(field) or {}
        latency[kind] = {
            "prometheus": {p: runner.scalar(query, w, q=q, **sel) for p, q in QUANTILES.items()},
            "exact": {p: exact.get(p) for p in (*QUANTILES, "max")},
        }
    send_delay_p99 = runner.scalar("send_delay_quantile", w, q="0.99", **sel)
    outbuf_max = runner.scalar("outbuf_latency_max", w, **sel)
    checks = [
        crosscheck(k, prom[k], record_total(entry, k), MISSED) for k in PERF_TOTALS if k in entry
    ]
    # The message totals shown: Prometheus's, or the record's when it is all there is.
    totals = {k: record_total(entry, k) for k in PERF_TOTALS} if runner.record_only else prom
    profile: dict[str, Any] = {
        "name": name,
        "passed": entry.get("passed"),
        "window": window_row(w),
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
        "crosscheck": not_checked(checks, runner),
    }
    if charts:
        profile["series"] = chart_series(runner, w, PROFILE_CHARTS, **sel)
    return profile


def record_total(entry: ProfileEntry, key: str) -> Any:
    """The record's total of ``key`` over every repetition (Prometheus counts them all).

    With REPEAT=N the profile shows the median repetition's figures, while the
    process's counters add the N repetitions up.
    """
    reps: list[Mapping[str, Any]] = list(entry.get("repetitions") or [])
    if len(reps) > 1 and all(isinstance(r.get(key), int | float) for r in reps):
        return sum(r[key] for r in reps)
    return _figures(entry).get(key)


def _figures(entry: ProfileEntry) -> Mapping[str, Any]:
    """An entry's figures by a name chosen at run time (a total, a latency field)."""
    return entry


def threshold_rows(thresholds: Mapping[str, object]) -> list[dict[str, Any]]:
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
