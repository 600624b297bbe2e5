"""The performance report's "Debezium pipeline" section: the latest CDC runs.

The latest snapshot run (``cdc snapshot``, record kind ``cdc-performance``)
and load run (``cdc load``, kind ``cdc-load``) give the exact figures: rows or
changes per second, the time until everything was consumed, end-to-end
latency and the connector's lag (commit in PostgreSQL to Debezium's event),
and whether every row or change arrived exactly. Prometheus, over each run's
own window, gives the same counts as scraped (``kafkaval_cdc_*``) and
Debezium's own lag (``MilliSecondsBehindSource``), cross-checked like the
other profiles. A run whose window Prometheus no longer holds is shown from
its record alone, its cross-check "not checked".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kafkaval.errors import KafkavalError
from kafkaval.prom_queries import QueryRunner, Window, WindowEmpty
from kafkaval.records import load_run_record
from report.collect import MISSED, crosscheck, not_checked, window_row

# Record kind -> (what the section calls it, the scenario label of its metrics).
RUNS = {
    "cdc-performance": ("snapshot", "cdc-snapshot"),
    "cdc-load": ("load", "cdc-load"),
}
COMMANDS = {"snapshot": "kafkaval cdc snapshot", "load": "kafkaval cdc load"}


def collect_cdc(results: Path, runner: QueryRunner) -> dict[str, Any]:
    """The section's context: one entry per CDC run kind, and a note per one missing."""
    runs, notes = [], []
    for kind, (name, scenario) in RUNS.items():
        path = results / f"latest-{kind}.json"
        if not path.exists():
            notes.append(f"no {name} run yet ({COMMANDS[name]})")
            continue
        # A CDC run that cannot be shown (a damaged record, Prometheus refusing a
        # query) costs its own row, never the performance report around it.
        try:
            record = load_run_record(path, kind)
            runs.append(_run(name, scenario, record, runner))
        except KafkavalError as e:
            notes.append(f"{name} run not shown: {e}")
    return {"runs": runs, "notes": notes}


def _run(name: str, scenario: str, record: dict[str, Any], r: QueryRunner) -> dict[str, Any]:
    res = record.get("results") or {}
    w = Window.of(record, None, r.scrape_interval)
    runner = r
    try:
        r.require_data(w, f"CDC {name} run {record.get('run_id', '?')}")
    except WindowEmpty as e:
        runner = QueryRunner.record_only_runner(str(e), r.scrape_interval)
    sel = {"scenario": scenario}
    committed = runner.scalar("cdc_committed", w, **sel)
    consumed = runner.scalar("cdc_consumed", w, **sel)
    if name == "snapshot":
        rows = res.get("rows_expected")
        figures = {
            "rate": res.get("snapshot_rows_per_second"),
            "rate_unit": "rows/s",
            "count": rows,
            "all_consumed_seconds": res.get("time_to_all_consumed_seconds"),
            "exact": res.get("exact_count"),
            "e2e": None,
            "connector_lag": None,
        }
        checks = [
            crosscheck("rows to carry", committed, rows, MISSED),
            crosscheck("snapshot events consumed", consumed, res.get("snapshot_events"), MISSED),
        ]
    else:
        figures = {
            "rate": res.get("achieved_rate"),
            "rate_unit": "changes/s",
            "count": res.get("committed"),
            "all_consumed_seconds": res.get("catch_up_seconds"),
            "exact": res.get("missing") == 0 and res.get("duplicates") == 0,
            "e2e": res.get("e2e_latency_seconds") or None,
            "connector_lag": res.get("connector_lag_seconds") or None,
        }
        checks = [
            crosscheck("changes committed", committed, res.get("committed"), MISSED),
            crosscheck("change events consumed", consumed, res.get("events_read"), MISSED),
        ]
    return {
        "name": name,
        "run_id": record.get("run_id"),
        "passed": record.get("passed"),
        "failures": res.get("failures") or [],
        "window": window_row(w),
        "record_only": runner.record_only,
        **figures,
        "debezium_behind_max_seconds": runner.scalar("dbz_behind_max", w),
        "crosscheck": not_checked(checks, runner),
    }
