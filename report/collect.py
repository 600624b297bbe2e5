"""Run records + Prometheus query results -> the context the templates render.

The run record says which runs happened, when (the window) and what was measured
exactly in-process; Prometheus says what it scraped over that window. Both go
into the context side by side so the report can cross-check them. This is the
skeleton both reports share; ``report/performance.py`` and ``report/delivery.py``
fill in a profile and a scenario.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from kafkaval.environment import machine
from kafkaval.prom_queries import QueryRunner, Window
from kafkaval.record_types import (
    DeliveryRecord,
    PerformanceRecord,
    ProfileEntry,
    ProfileParameters,
    ScenarioEntry,
)
from kafkaval.redact import redact_props

Entry = TypeVar("Entry", ProfileEntry, ScenarioEntry)
# One entry of a run record (a profile, a scenario) -> its part of the context.
EntryContext = Callable[[str, Entry, QueryRunner, Window, bool], dict[str, Any]]
# Chart name -> (promql query name, quantile or "").
ChartQueries = dict[str, tuple[str, str]]


def not_checked(checks: list[dict[str, Any]], runner: QueryRunner) -> list[dict[str, Any]]:
    """Cross-check rows as they are, or marked "not checked" in a record-only report."""
    if not runner.record_only:
        return checks
    return [
        {**c, "ok": None, "cause": "not checked: report from the run record only"} for c in checks
    ]


def crosscheck(what: str, prom: float | None, record: Any, note: str) -> dict[str, Any]:
    """One cross-check row: Prometheus's ``prom`` against the record's exact ``record``,
    with the likely cause when they differ (``note`` when Prometheus counted fewer)."""
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


MISSED = "Prometheus lower: the final scrape was missed (process exited too early) or a scrape gap"


def collect_run(
    kind: str,
    entries: str,
    found: Mapping[str, Entry],
    entry_context: EntryContext[Entry],
    record: PerformanceRecord | DeliveryRecord,
    runner: QueryRunner,
    charts: bool,
    fallback_env: dict[str, Any] | None,
    workload: ProfileParameters | None = None,
) -> tuple[dict[str, Any], Window]:
    """The context both reports share, the record's ``found`` entries (under the
    context key ``entries``, each through ``entry_context`` over its own window)
    included, and the whole run's window; ``workload``: the parameters that
    describe the run's topic and client in the environment (a performance run's).

    Raises:
        PrometheusError: unreachable, a query rejected, or no data in the run's window.
    """
    run_window = Window.of(record, None, runner.scrape_interval)
    runner.require_data(run_window, f"{kind} run {record.get('run_id', '?')}")
    items = []
    for key, entry in found.items():
        w = Window.of(entry, run_window, runner.scrape_interval)
        items.append(entry_context(key, entry, runner, w, charts))
    context: dict[str, Any] = {
        "run": _run_summary(record, run_window),
        "record_only": runner.record_only,
        "environment": environment(record, fallback_env, workload),
        entries: items,
    }
    return context, run_window


def chart_series(
    runner: QueryRunner, w: Window, queries: ChartQueries, **sel: str
) -> dict[str, list[dict[str, Any]]]:
    """``{chart name: range-query series}`` of ``queries`` over ``w``, narrowed by ``sel``."""
    return {name: runner.series(query, w, q=q, **sel) for name, (query, q) in queries.items()}


def window_row(w: Window) -> dict[str, Any]:
    """A window as the templates show it."""
    return {"start": w.start, "end": w.end, "seconds": w.seconds}


def _run_summary(record: PerformanceRecord | DeliveryRecord, w: Window) -> dict[str, Any]:
    return {
        "run_id": record.get("run_id", "?"),
        "started_at": record.get("started_at"),
        "ended_at": record.get("ended_at"),
        "quick": bool(record.get("quick")),
        "passed": record.get("passed"),
        "window_seconds": w.seconds,
        "tags": record.get("tags") or {},
    }


def environment(
    record: PerformanceRecord | DeliveryRecord,
    fallback: dict[str, Any] | None = None,
    params: ProfileParameters | None = None,
) -> dict[str, Any]:
    """Environment of the run: what the record says, then what its workload ``params``
    imply, then ``fallback`` (the configuration at report time) and this machine's facts."""
    env = dict(record.get("environment") or {})
    bootstrap = record.get("bootstrap_servers")
    if bootstrap:
        env.setdefault("bootstrap_servers", bootstrap)
    if params and "partitions" in params:
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
