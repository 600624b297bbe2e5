"""The scheduler: apscheduler 3.x drives the jobs; one run at a time; clean stop.

One scheduled run = the job's suites (-> run records) -> reports -> comparison
with the baseline -> verdict -> ``scheduled-<run_id>.json``; a history job
instead judges the performance runs on disk for change points. A failure
anywhere is recorded as a failed run; the scheduler keeps running.

* One run at a time: a single-worker executor (runs of different jobs queue)
  and ``max_instances=1`` + ``coalesce=True`` per job (fires that pile up
  while a job is busy become one run).
* Late runs are not dropped silently: ``misfire_grace_time`` is the
  schedule's grace period (hours by default); a run later than that is
  logged, counted and recorded with status "missed".
* Restart: the history on disk decides; a fire time missed while the
  scheduler was down (within the grace period) runs once at start, a fire
  time that has a record never runs again.
* SIGTERM/SIGINT: the first stops scheduling and lets the current run finish;
  a second one aborts the current suite (it gets SIGTERM and rolls back its
  faults) and the run is recorded as aborted.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.records import (
    iso,
    load_run_record,
    new_run_id,
    record_header,
    save_run_record,
    utc_now,
)
from scheduler import baseline, comparison, history
from scheduler.changepoints import HISTORY_RUNS, judge_history
from scheduler.jobs import AB_KIND, HISTORY_KIND, Job, Schedule
from scheduler.metrics import SchedulerState
from scheduler.metrics_extract import run_series, same_kind_as_newest
from scheduler.suites import ReportFunc, SuiteFunc, SuiteOutcome, run_reports, run_suites

log = logging.getLogger(__name__)


class StopControl:
    """Two-level stop: ``stopping`` (finish the current run) then ``aborting``."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.aborting = threading.Event()

    def request(self) -> None:
        if self.stopping.is_set():
            self.aborting.set()
        self.stopping.set()


class JobRunner:
    """Executes one run of a job and records it; never raises.

    Args:
        settings: where results go; passed to the suites.
        schedule: the verdict policy and jobs.
        state: the metrics state to update.
        suites: runs the suites (default: child processes of ``kafkaval``).
        reports: regenerates the reports, returning an error line or None.
        now: the wall clock for record timestamps.
        stop: the stop control (abort ends the current suite).
    """

    def __init__(
        self,
        settings: Settings,
        schedule: Schedule,
        state: SchedulerState | None = None,
        suites: SuiteFunc = run_suites,
        reports: ReportFunc | None = run_reports,
        now: Callable[[], datetime] = utc_now,
        stop: StopControl | None = None,
    ) -> None:
        self.settings = settings
        self.schedule = schedule
        self.state = state or SchedulerState(j.name for j in schedule.jobs)
        self.suites = suites
        self.reports = reports
        self.now = now
        self.stop = stop or StopControl()
        self.results = settings.path("results_dir")
        self._lock = threading.Lock()
        # One trigger per job, shared with the scheduler: an interval trigger
        # anchors on its creation time, so a second instance would disagree.
        self.triggers = {j.name: j.trigger(schedule.timezone) for j in schedule.jobs}

    def run_scheduled(self, job_name: str) -> dict[str, Any] | None:
        """Body of an apscheduler job: the latest due fire time of the job, once."""
        job = self.schedule.job(job_name)
        if self.stop.stopping.is_set():
            log.info("%s: stopping; not starting a new run", job.name)
            return None
        now = self.now()
        fire = history.last_fire_time(
            self.triggers[job.name],
            now + timedelta(seconds=1),
            timedelta(seconds=self.schedule.misfire_grace_seconds),
        )
        scheduled_for = iso(fire or now)
        records = history.history_by_job(self.results).get(job.name, [])
        if history.has_run(records, scheduled_for):
            log.info(
                "%s: the run due %s already has a record; not running it again",
                job.name,
                scheduled_for,
            )
            return None
        return self.run(job, scheduled_for, trigger="schedule")

    def run(self, job: Job, scheduled_for: str | None = None, trigger: str = "manual") -> dict:
        """Run ``job`` now and return its scheduled-run record (also saved to disk)."""
        with self._lock:  # one run at a time even outside the scheduler (--once)
            return self._run(job, scheduled_for or iso(self.now()), trigger)

    def _run(self, job: Job, scheduled_for: str, trigger: str) -> dict[str, Any]:
        started, t0 = self.now(), time.monotonic()
        record: dict[str, Any] = {
            **record_header(history.KIND, new_run_id(self.now), started),
            "ended_at": None,  # saved before the run: None says it is still going
            "job": job.name,
            "trigger": trigger,
            "scheduled_for": scheduled_for,
            "status": "running",
            "passed": False,
            "suites": list(job.suites),
            "quick": job.quick,
            "repeat": job.repeat,
            "suite_run_ids": [],
            "errors": [],
            "verdicts": [],
        }
        self.state.started(job.name)
        try:
            # Saved first, so a restart after a crash mid-run does not run it again.
            save_run_record(self.results, record)
            self._execute(job, record)
        except KafkavalError as e:
            record["errors"].append(str(e))
            record["status"] = "failed"
        except Exception as e:  # noqa: BLE001 - the scheduler must outlive any bug in a run
            log.exception("%s: run crashed", job.name)
            record["errors"].append(f"crashed: {type(e).__name__}: {e}")
            record["status"] = "failed"
        finally:
            record["ended_at"] = iso(self.now())
            record["duration_seconds"] = round(time.monotonic() - t0, 3)
            record["passed"] = record["status"] == "ok"
            try:
                save_run_record(self.results, record)
            except KafkavalError as e:
                log.error("%s: %s", job.name, e)
            self.state.finished(record)
        log.info("%s: %s (%s)", job.name, record["status"], "; ".join(record["errors"]) or "-")
        return record

    def _execute(self, job: Job, record: dict[str, Any]) -> None:
        if job.kind == HISTORY_KIND:
            self._judge_history(record)
            return
        outcome = self.suites(job, self.settings, self.stop.aborting.is_set)
        record["suite_run_ids"] = outcome.run_ids
        record["suite_exit_codes"] = outcome.exit_codes
        record["errors"] += outcome.errors
        if outcome.aborted or self.stop.aborting.is_set():
            record["status"] = "aborted"
            return
        if job.kind == AB_KIND:
            self._ab_verdicts(record, outcome)
            return
        if outcome.records and job.reports and self.reports is not None:
            error = self.reports(self.settings, self.stop.aborting.is_set)
            if error:
                record["errors"].append(error)
        candidate = baseline.suite_records(outcome.records)
        base_ids = baseline.current_baseline(self.results)
        if base_ids:
            record["baseline_run_ids"] = base_ids
            base_records = baseline.load_records(self.results, base_ids)
        else:
            proposal = baseline.propose(self.results)
            record["baseline_proposal"] = proposal
            record["notes"] = [
                "no baseline yet: "
                + (
                    f"accept one with 'kafkaval baseline accept {proposal}'"
                    if proposal
                    else "no good run to propose"
                )
            ]
            base_records = []
        verdicts = comparison.compare(base_records, candidate, self.schedule.policy)
        record["verdicts"] = [v.to_dict() for v in verdicts]
        record["regressions"] = [v.metric for v in verdicts if v.is_regression]
        broke = any(e for e in outcome.errors) or not outcome.records
        if broke:
            record["status"] = "failed"
        elif record["regressions"]:
            record["status"] = "regression"
        elif any(c == 1 for c in outcome.exit_codes.values()):
            record["status"] = "checks_failed"
        elif any(e.startswith("report") for e in record["errors"]):
            record["status"] = "failed"
        else:
            record["status"] = "ok"
        if record["regressions"] and broke:
            # Loss found by a suite that also failed is still a regression to alert on.
            record["status"] = "regression"

    def _ab_verdicts(self, record: dict[str, Any], outcome: SuiteOutcome) -> None:
        """The verdicts of the A/B record the job's ``perf ab`` wrote (B vs the pinned A)."""
        if outcome.errors or len(outcome.records) != 1:
            record["status"] = "failed"
            return
        ab = load_run_record(outcome.records[0])  # an A/B record: untyped
        record["verdicts"] = ab.get("verdicts") or []
        record["regressions"] = list(ab.get("regressions") or [])
        if record["regressions"]:
            record["status"] = "regression"
        elif not ab.get("complete"):
            record["errors"].append("the A/B run did not complete all its rounds")
            record["status"] = "failed"
        else:
            record["status"] = "ok"

    def _judge_history(self, record: dict[str, Any]) -> None:
        """Change points of every metric over the recent performance runs on disk."""
        recent, skipped = history.recent_runs(self.results, "performance", HISTORY_RUNS)
        runs = same_kind_as_newest(recent)
        if skipped:
            record["errors"].append(f"{skipped} damaged performance record(s) skipped")
        if not runs:
            raise KafkavalError(
                f"no performance run records in {self.results}: "
                "schedule a performance job before the history job"
            )
        record["history_run_ids"] = [r.get("run_id") for r in runs]
        verdicts = judge_history(run_series(runs), self.schedule.policy)
        record["verdicts"] = [v.to_dict() for v in verdicts]
        record["regressions"] = [v.metric for v in verdicts if v.is_regression]
        record["status"] = "regression" if record["regressions"] else "ok"


class SchedulerService:
    """apscheduler wiring around a JobRunner.

    Args:
        runner: executes the runs.
        scheduler: a BackgroundScheduler to use (tests pass one with a fast clock).
    """

    def __init__(self, runner: JobRunner, scheduler: BackgroundScheduler | None = None) -> None:
        self.runner = runner
        schedule = runner.schedule
        self.scheduler = scheduler or BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": int(schedule.misfire_grace_seconds),
            },
            timezone=schedule.timezone,
        )
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)
        self.scheduler.add_listener(self._on_busy, EVENT_JOB_MAX_INSTANCES)

    def start(self) -> None:
        """Add every job (catching up a fire time missed while down) and start."""
        schedule = self.runner.schedule
        past = history.history_by_job(self.runner.results)
        self.runner.state.load(past)
        now = self.runner.now()
        for job in schedule.jobs:
            trigger = self.runner.triggers[job.name]
            kwargs: dict[str, Any] = {}
            done = past.get(job.name, [])
            missed = history.last_fire_time(
                trigger, now, timedelta(seconds=schedule.misfire_grace_seconds)
            )
            # A run that started after the missed fire time (e.g. --once) covers it.
            if missed and not history.has_run(done, iso(missed)) and not _ran_after(done, missed):
                log.info("%s: catching up the run due %s", job.name, iso(missed))
                kwargs["next_run_time"] = missed
            self.scheduler.add_job(
                self.runner.run_scheduled,
                trigger,
                args=[job.name],
                id=job.name,
                name=job.name,
                **kwargs,
            )
        self.scheduler.start()
        self._publish_next_runs()

    def _publish_next_runs(self) -> None:
        for job in self.scheduler.get_jobs():
            nrt = job.next_run_time
            self.runner.state.set_next_run(job.id, nrt.timestamp() if nrt else None)

    def serve(self, poll: float = 1.0) -> None:
        """Block until a stop is requested, then wait for the current run to end."""
        try:
            while not self.runner.stop.stopping.wait(poll):
                self._publish_next_runs()
        finally:
            log.info("stopping: no new runs; waiting for the current run to finish")
            self.scheduler.shutdown(wait=True)

    def _on_missed(self, event: JobExecutionEvent) -> None:
        late = iso(event.scheduled_run_time)
        log.warning(
            "%s: the run due %s is later than the %s s grace period; recorded as missed",
            event.job_id,
            late,
            self.runner.schedule.misfire_grace_seconds,
        )
        self._record_skip(event.job_id, late, "missed", "later than the misfire grace period")

    def _on_busy(self, event: JobSubmissionEvent) -> None:
        # Coalescing already folds piled-up fires into one; this one found the
        # job's previous run still going, so it is the same work, logged not run.
        for when in event.scheduled_run_times:
            log.warning(
                "%s: the run due %s was skipped: the previous run is still going",
                event.job_id,
                iso(when),
            )

    def _record_skip(self, job: str, scheduled_for: str, status: str, why: str) -> None:
        now = self.runner.now()
        record = {
            **record_header(history.KIND, new_run_id(self.runner.now), now, now),
            "job": job,
            "trigger": "schedule",
            "scheduled_for": scheduled_for,
            "status": status,
            "passed": False,
            "errors": [why],
            "suite_run_ids": [],
            "verdicts": [],
        }
        try:
            save_run_record(self.runner.results, record)
        except KafkavalError as e:
            log.error("%s: %s", job, e)
        self.runner.state.finished(record)


def _ran_after(records: list[dict[str, Any]], when: datetime) -> bool:
    for r in records:
        try:
            started = datetime.fromisoformat(str(r.get("started_at")).replace("Z", "+00:00"))
        except ValueError:
            continue
        if started >= when:
            return True
    return False


def install_signal_handlers(stop: StopControl) -> None:
    """SIGTERM/SIGINT only set flags (the main thread waits on them)."""

    def handler(signum: int, frame: object) -> None:
        already = stop.stopping.is_set()
        stop.request()
        log.warning(
            "%s: %s",
            signal.Signals(signum).name,
            "aborting the current run"
            if already
            else "finishing the current run, then stopping (again to abort)",
        )

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
