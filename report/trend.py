"""The "Trend and regressions" section: the last runs per metric, the baseline, the verdicts.

Everything here comes from run records on disk (no Prometheus): the
performance records in ``results_dir`` (each run's median per compared
metric, extracted exactly as the regression verdict extracts them, see
``scheduler/metrics_extract.py``), the pinned baseline
(``scheduler/baseline.py``), and the verdicts of the latest scheduled run
that judged one (``scheduled-*.json``). The change points are found over a
longer history (``scheduler/changepoints.py``: E-Divisive means over the last
``HISTORY_RUNS`` runs of the newest run's kind), so a step shows where it
happened, not only as "latest vs baseline".
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kafkaval.errors import KafkavalError
from kafkaval.record_types import PerformanceRecord, SuiteRecord

LAST_RUNS = 10


def _medians(records: Sequence[SuiteRecord]) -> dict[str, float]:
    from scheduler.metrics_extract import extract

    return {name: statistics.median(s.values) for name, s in extract(records).items() if s.values}


def _same_kind(records: list[PerformanceRecord]) -> list[PerformanceRecord]:
    from scheduler.metrics_extract import same_kind_as_newest

    return same_kind_as_newest(records)


def _change_points(records: list[PerformanceRecord]) -> list[dict[str, Any]]:
    """The change-point verdict of every metric whose history has a change point."""
    from scheduler.changepoints import judge_history
    from scheduler.metrics_extract import run_series

    verdicts = judge_history(run_series(_same_kind(records)))
    return [v.to_dict() for v in verdicts if v.effect is not None]


def _latest_verdicts(results_dir: Path) -> tuple[str | None, dict[str, dict[str, Any]]]:
    from scheduler.history import scheduled_records

    latest: dict[str, Any] | None = None
    for record in scheduled_records(results_dir):
        if record.get("verdicts"):
            latest = record
    if latest is None:
        return None, {}
    return str(latest.get("run_id")), {v["metric"]: v for v in latest["verdicts"]}


def collect_trend(results_dir: str | Path, last: int = LAST_RUNS) -> dict[str, Any]:
    """Context of the trend section.

    ``{"runs", "rows", "baseline_ids", "verdict_run", "skipped", "change_points",
    "history_runs"}``.

    ``rows``: one per metric seen in the last ``last`` performance runs, with
    each run's value (None where the run lacks it), the baseline's median and
    the latest verdict. Damaged records are skipped (the section says how many).
    """
    from scheduler.baseline import current_baseline, load_records
    from scheduler.changepoints import HISTORY_RUNS
    from scheduler.history import recent_runs

    results = Path(results_dir)
    history, skipped = recent_runs(results, "performance", max(last, HISTORY_RUNS))
    records = history[-last:]
    runs = [
        {"run_id": r.get("run_id", "?"), "started_at": r.get("started_at"), "quick": r.get("quick")}
        for r in records
    ]
    per_run = [_medians([r]) for r in records]
    base_ids = current_baseline(results) or []
    try:
        base = _medians(load_records(results, base_ids)) if base_ids else {}
    except KafkavalError:
        base = {}  # a baseline whose records were deleted: shown as missing
    verdict_run, verdicts = _latest_verdicts(results)
    names = sorted({n for values in per_run for n in values})
    rows = [
        {
            "metric": name,
            "values": [values.get(name) for values in per_run],
            "baseline": base.get(name),
            "verdict": verdicts.get(name),
        }
        for name in names
    ]
    return {
        "runs": runs,
        "rows": rows,
        "baseline_ids": base_ids,
        "verdict_run": verdict_run,
        "skipped": skipped,
        "change_points": _change_points(history),
        "history_runs": len(_same_kind(history)),
    }


def chart_series(trend: dict[str, Any], limit: int = 6) -> list[dict[str, Any]]:
    """The ``limit`` metrics that moved most (2+ values), each relative to its first value."""
    candidates = []
    for row in trend["rows"]:
        points = [(i, v) for i, v in enumerate(row["values"]) if v is not None]
        if len(points) < 2 or not points[0][1]:
            continue
        first = points[0][1]
        rel = [v / first for _, v in points]
        moved = max(abs(r - 1.0) for r in rel)
        series = {"labels": {"name": row["metric"]}, "t": [i for i, _ in points], "v": rel}
        candidates.append((-moved, row["metric"], series))
    return [s for _, _, s in sorted(candidates, key=lambda c: (c[0], c[1]))[:limit]]
