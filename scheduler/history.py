"""Scheduler history from the run records on disk: what ran, when it was due.

There is no scheduler database: each scheduled run writes
``scheduled-<run_id>.json`` (status "running" when it starts, the outcome
when it ends) with the job name and the fire time it served
(``scheduled_for``). After a restart the scheduler reads them, runs a fire
time that was missed while it was down (once), and never runs a fire time
that already has a record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from apscheduler.triggers.base import BaseTrigger

from kafkaval.errors import KafkavalError
from kafkaval.record_types import PerformanceRecord
from kafkaval.records import list_run_records, load_run_record

KIND = "scheduled"
log = logging.getLogger(__name__)

# Bounds the walk over a trigger's fire times (an every-second job over a
# long grace period would otherwise loop for a long time).
_MAX_FIRES = 100_000


def scheduled_records(results_dir: str | Path) -> Iterator[dict[str, Any]]:
    """Every readable scheduled-run record, oldest first; damaged ones are logged and skipped.

    The scheduled kind has no record type (scheduler/runner.py writes it): plain dicts.
    """
    for path in list_run_records(results_dir, KIND):
        try:
            yield load_run_record(path)
        except KafkavalError as e:
            log.warning("skipping %s", e)


def recent_runs(
    results_dir: str | Path, kind: Literal["performance"], last: int
) -> tuple[list[PerformanceRecord], int]:
    """The last ``last`` run records of ``kind``, oldest first, and how many were damaged.

    A torn or foreign file must not hide the others: it is skipped and counted.
    """
    records, skipped = [], 0
    for path in list_run_records(results_dir, kind)[-last:]:
        try:
            records.append(load_run_record(path, kind))
        except KafkavalError:
            skipped += 1
    return records, skipped


def history_by_job(results_dir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Scheduled-run records grouped by job name, oldest first."""
    out: dict[str, list[dict[str, Any]]] = {}
    for record in scheduled_records(results_dir):
        out.setdefault(str(record.get("job")), []).append(record)
    return out


def has_run(records: list[dict[str, Any]], scheduled_for: str) -> bool:
    """True when a record (any status) already served the fire time ``scheduled_for``."""
    return any(
        r.get("scheduled_for") == scheduled_for and r.get("trigger") != "manual" for r in records
    )


def last_fire_time(trigger: BaseTrigger, now: datetime, horizon: timedelta) -> datetime | None:
    """The latest fire time of ``trigger`` in (now - horizon, now], or None."""
    start = now - horizon
    fire = trigger.get_next_fire_time(None, start)
    last = None
    for _ in range(_MAX_FIRES):
        if fire is None or fire > now:
            break
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return last
