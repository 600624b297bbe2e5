"""Scheduler metrics: a custom collector over the scheduler's state.

The runner updates a ``SchedulerState`` (under a lock) when a run starts and
ends; each scrape yields fresh families from it. The state starts from the
records on disk, so totals and the last outcome survive a restart.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from kafkaval.records import parse_iso

# The scheduled job's name. Not "job": Prometheus owns that label (the scrape
# job) and would store ours as "exported_job".
JOB_LABEL = "schedule_job"
STATUSES = ("ok", "regression", "checks_failed", "failed", "aborted", "missed", "running")


class SchedulerState:
    """What the collector reports: last run per job, totals, latest verdicts."""

    def __init__(self, jobs: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, dict[str, Any]] = {}
        self._totals: dict[tuple[str, str], int] = {}
        self._running: dict[str, bool] = {j: False for j in jobs}
        self._next: dict[str, float] = {}

    def load(self, history: Mapping[str, list[dict[str, Any]]]) -> None:
        """Start from the records on disk (a "running" record there was interrupted)."""
        with self._lock:
            for job, records in history.items():
                finished = [r for r in records if r.get("status") != "running"]
                for r in finished:
                    key = (job, str(r.get("status")))
                    self._totals[key] = self._totals.get(key, 0) + 1
                if finished:
                    self._last[job] = finished[-1]

    def started(self, job: str) -> None:
        with self._lock:
            self._running[job] = True

    def finished(self, record: Mapping[str, Any]) -> None:
        job = str(record["job"])
        with self._lock:
            self._running[job] = False
            self._last[job] = dict(record)
            key = (job, str(record.get("status")))
            self._totals[key] = self._totals.get(key, 0) + 1

    def set_next_run(self, job: str, timestamp: float | None) -> None:
        with self._lock:
            if timestamp is None:
                self._next.pop(job, None)
            else:
                self._next[job] = timestamp

    def snapshot(
        self,
    ) -> tuple[
        dict[str, dict[str, Any]], dict[tuple[str, str], int], dict[str, bool], dict[str, float]
    ]:
        with self._lock:
            return dict(self._last), dict(self._totals), dict(self._running), dict(self._next)


def _ts(text: Any) -> float | None:
    try:
        return parse_iso(str(text)).timestamp()
    except ValueError:
        return None


class SchedulerCollector(Collector):
    """Yields the ``kafkaval_scheduler_*`` families (see docs/metrics.md)."""

    def __init__(self, state: SchedulerState) -> None:
        self.state = state

    def collect(self) -> Iterator[Any]:
        last, totals, running, nxt = self.state.snapshot()
        started = GaugeMetricFamily(
            "kafkaval_scheduler_last_run_start_timestamp_seconds",
            "Start time of the job's last finished run (Unix seconds).",
            labels=[JOB_LABEL],
        )
        ended = GaugeMetricFamily(
            "kafkaval_scheduler_last_run_end_timestamp_seconds",
            "End time of the job's last finished run (Unix seconds).",
            labels=[JOB_LABEL],
        )
        duration = GaugeMetricFamily(
            "kafkaval_scheduler_last_run_duration_seconds",
            "Duration of the job's last finished run.",
            labels=[JOB_LABEL],
        )
        status = GaugeMetricFamily(
            "kafkaval_scheduler_last_run_status",
            "1 for the status of the job's last finished run, 0 for the others.",
            labels=[JOB_LABEL, "status"],
        )
        regression = GaugeMetricFamily(
            "kafkaval_scheduler_regression",
            "1 while the job's latest run is judged a regression on this metric, else 0.",
            labels=[JOB_LABEL, "metric"],
        )
        change = GaugeMetricFamily(
            "kafkaval_scheduler_metric_change_ratio",
            "Relative change of the metric's median vs the baseline in the latest run "
            "(positive = worse).",
            labels=[JOB_LABEL, "metric"],
        )
        for job, rec in sorted(last.items()):
            for fam, key in ((started, "started_at"), (ended, "ended_at")):
                ts = _ts(rec.get(key))
                if ts is not None:
                    fam.add_metric([job], ts)
            if isinstance(rec.get("duration_seconds"), int | float):
                duration.add_metric([job], float(rec["duration_seconds"]))
            for s in STATUSES[:-1]:
                status.add_metric([job, s], 1.0 if rec.get("status") == s else 0.0)
            for v in rec.get("verdicts") or []:
                regression.add_metric(
                    [job, v["metric"]], 1.0 if v["decision"] == "regression" else 0.0
                )
                if v.get("effect") is not None:
                    change.add_metric([job, v["metric"]], float(v["effect"]))
        runs = CounterMetricFamily(
            "kafkaval_scheduler_runs",
            "Scheduled runs finished, by outcome (incl. missed).",
            labels=[JOB_LABEL, "status"],
        )
        for (job, st), n in sorted(totals.items()):
            runs.add_metric([job, st], float(n))
        running_fam = GaugeMetricFamily(
            "kafkaval_scheduler_running",
            "1 while a run of the job is in progress.",
            labels=[JOB_LABEL],
        )
        for job, is_running in sorted(running.items()):
            running_fam.add_metric([job], 1.0 if is_running else 0.0)
        next_fam = GaugeMetricFamily(
            "kafkaval_scheduler_next_run_timestamp_seconds",
            "When the job runs next (Unix seconds).",
            labels=[JOB_LABEL],
        )
        for job, ts in sorted(nxt.items()):
            next_fam.add_metric([job], ts)
        yield from (
            started,
            ended,
            duration,
            status,
            regression,
            change,
            runs,
            running_fam,
            next_fam,
        )
