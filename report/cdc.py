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
from typing import TYPE_CHECKING, Any

from kafkaval.errors import KafkavalError
from kafkaval.prom_queries import QueryRunner, Window, WindowEmpty
from kafkaval.record_types import CdcLoadRecord, CdcPerformanceRecord
from kafkaval.records import figure, load_run_record
from report.collect import MISSED, crosscheck, not_checked, window_row

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing's own from Python 3.13

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
            runs.append(_run(name, scenario, _load(path, kind), runner))
        except KafkavalError as e:
            notes.append(f"{name} run not shown: {e}")
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            shape = f"{path} does not have a {kind} record's shape"
            notes.append(f"{name} run not shown: {shape} ({type(e).__name__}: {e})")
    return {"runs": runs, "notes": notes}


def _load(path: Path, kind: str) -> CdcPerformanceRecord | CdcLoadRecord:
    """The record at ``path``, of ``kind`` (one of RUNS), typed as its kind's.

    Raises:
        KafkavalError: see ``load_run_record``.
    """
    if kind == "cdc-performance":
        return load_run_record(path, "cdc-performance")
    return load_run_record(path, "cdc-load")


def _is_snapshot(record: CdcPerformanceRecord | CdcLoadRecord) -> TypeIs[CdcPerformanceRecord]:
    return record["kind"] == "cdc-performance"  # load_run_record checked it


def _quantile(summary: Any, q: str) -> float | None:
    return figure(summary.get(q)) if isinstance(summary, dict) else None


def _run(
    name: str, scenario: str, record: CdcPerformanceRecord | CdcLoadRecord, r: QueryRunner
) -> dict[str, Any]:
    """One CDC run's row and cross-check.

    The record's type is what its writer puts in; a file on disk may still be
    damaged or older, so every figure is read defensively.

    Raises:
        KeyError, TypeError, ValueError, AttributeError: the record is not shaped
            as its kind's.
    """
    if not isinstance(record["results"], dict):
        raise TypeError("results is not a table")
    w = Window.of(record, None, r.scrape_interval)
    runner = r
    try:
        r.require_data(w, f"CDC {name} run {record.get('run_id', '?')}")
    except WindowEmpty as e:
        runner = QueryRunner.record_only_runner(str(e), r.scrape_interval)
    sel = {"scenario": scenario}
    if _is_snapshot(record):
        figures, checks = _snapshot_figures(record, runner, w, sel)
    else:
        figures, checks = _load_figures(record, runner, w, sel)
    failures = record["results"].get("failures")
    return {
        "name": name,
        "run_id": record.get("run_id"),
        "passed": record.get("passed"),
        "failures": [str(f) for f in failures or []],
        "window": window_row(w),
        "record_only": runner.record_only,
        **figures,
        "crosscheck": not_checked(checks, runner),
    }


Figures = tuple[dict[str, Any], list[dict[str, Any]]]


def _snapshot_figures(
    record: CdcPerformanceRecord, runner: QueryRunner, w: Window, sel: dict[str, str]
) -> Figures:
    """A snapshot run's row figures and its cross-check rows."""
    res = record["results"]
    rows = figure(res.get("rows_expected"))
    other = res.get("other_events") or {}
    events = figure(res.get("snapshot_events"))
    if events is not None and isinstance(other, dict):
        events += sum(v for v in other.values() if isinstance(v, int))
    figures = {
        "rate": figure(res.get("snapshot_rows_per_second")),
        "rate_unit": "rows/s",
        "count": rows,
        "all_consumed_seconds": figure(res.get("time_to_all_consumed_seconds")),
        "exact": res.get("exact_count") is True,
        "e2e_p50": None,
        "e2e_p99": None,
        "connector_lag_p99": None,
        # Streaming lag means nothing while the snapshot reads the tables.
        "debezium_behind_max_seconds": None,
    }
    consumed = runner.scalar("cdc_consumed", w, **sel)
    return figures, [
        crosscheck("rows to carry", runner.scalar("cdc_committed", w, **sel), rows, MISSED),
        crosscheck("change events consumed", consumed, events, MISSED),
    ]


def _load_figures(
    record: CdcLoadRecord, runner: QueryRunner, w: Window, sel: dict[str, str]
) -> Figures:
    """A load run's row figures and its cross-check rows."""
    res = record["results"]
    caught_up = res.get("caught_up") is True
    e2e, lag = res.get("e2e_latency_seconds"), res.get("connector_lag_seconds")
    figures = {
        "rate": figure(res.get("achieved_rate")),
        "rate_unit": "changes/s",
        "count": figure(res.get("committed")),
        # Not caught up: the time is the read's timeout, not a measurement.
        "all_consumed_seconds": figure(res.get("catch_up_seconds")) if caught_up else None,
        "exact": res.get("missing") == 0 and res.get("duplicates") == 0,
        "e2e_p50": _quantile(e2e, "p50"),
        "e2e_p99": _quantile(e2e, "p99"),
        "connector_lag_p99": _quantile(lag, "p99"),
        "debezium_behind_max_seconds": runner.scalar(
            "dbz_behind_max", w, name=_topic_prefix(record)
        ),
    }
    # Only what was committed: the live reader's consumed count (Prometheus)
    # stops with the driver, the record's events come from the later catch-up.
    committed = runner.scalar("cdc_committed", w, **sel)
    return figures, [crosscheck("changes committed", committed, res.get("committed"), MISSED)]


def _topic_prefix(record: CdcLoadRecord) -> str:
    """Debezium's ``name`` label: the connector's topic.prefix, the first part of its topics."""
    topics = (record.get("parameters") or {}).get("topics") or []
    return str(topics[0]).split(".", 1)[0] if topics else ""
