"""Scheduled jobs: what to run when, read from the schedule file (``settings.schedule_file``).

The file is TOML::

    [scheduler]
    timezone = "UTC"              # cron expressions are read in this zone
    misfire_grace_seconds = 21600 # a run up to 6 h late still runs (once)

    [verdict]
    min_effect = 0.05             # smallest relative worsening that counts
    alpha = 0.05                  # one-sided rank-test level
    # metrics = ["performance.*_p50_seconds"]  # judge only these (shell patterns)

    [[job]]
    name = "nightly-performance"
    cron = "0 2 * * *"            # minute hour day month weekday
    suites = ["performance"]
    quick = false
    repeat = 3                    # >= 3: the verdict needs repetitions
    # every_seconds = 600         # instead of cron: a fixed interval
    # profiles = ["throughput"]   # a subset of the performance profiles
    # scenarios = ["broker-restart"]
    # timeout_seconds = 14400     # a run is stopped after this long
    # reports = true              # regenerate the reports after the suites
    # perf_args = ["--rate", "2000"]      # more `kafkaval perf run` arguments
    # delivery_args = ["--cluster", "single"]  # more `kafkaval delivery run` arguments

    [[job]]
    name = "history"
    kind = "history"              # runs no suite: judges the performance history
    cron = "30 2 * * *"           # with change points (scheduler/changepoints.py)

    [[job]]
    name = "ab-vs-pinned"
    kind = "ab"                   # interleaved A/B rounds (kafkaval perf ab)
    cron = "0 4 * * *"
    baseline = "ab/pinned.toml"   # side A: the pinned configuration
    # candidate = "ab/new.toml"   # side B (default: the settings as they are)
    rounds = 10
    quick = true
    # profiles = ["throughput"]

Without a schedule file (the default path missing) the two jobs of
``DEFAULT_JOBS`` apply: a nightly full performance suite and an hourly QUICK
delivery suite.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from kafkaval.config import Settings
from kafkaval.errors import UsageError
from scheduler.verdict_terms import VerdictPolicy

SUITES = ("performance", "delivery")
# What a job does: run suites and compare with the baseline, or judge the
# history of performance runs already on disk for change points.
SUITES_KIND, HISTORY_KIND, AB_KIND = "suites", "history", "ab"
JOB_KINDS = (SUITES_KIND, HISTORY_KIND, AB_KIND)
# An A/B job runs this one "suite" (``kafkaval perf ab``, scheduler/suites.py).
AB_SUITE = "ab"
AB_ROUNDS = 10
# The verdict needs repetitions: a rank test on fewer than 3 samples a side
# can never be significant at 5%.
MIN_REPEAT = 3
DEFAULT_SCHEDULE_FILE = "schedule.toml"


@dataclasses.dataclass(frozen=True)
class Job:
    """One scheduled job."""

    name: str
    suites: tuple[str, ...]
    cron: str | None = None
    every_seconds: float | None = None
    quick: bool = False
    repeat: int = MIN_REPEAT
    profiles: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    timeout_seconds: float = 4 * 3600.0
    reports: bool = True
    perf_args: tuple[str, ...] = ()
    delivery_args: tuple[str, ...] = ()
    kind: str = SUITES_KIND
    baseline: str | None = None
    candidate: str | None = None
    rounds: int = AB_ROUNDS

    def trigger(self, timezone: str = "UTC") -> BaseTrigger:
        """The apscheduler trigger of this job.

        Raises:
            UsageError: the cron expression is invalid.
        """
        if self.every_seconds is not None:
            try:
                return IntervalTrigger(seconds=self.every_seconds, timezone=timezone)
            except KeyError:
                raise UsageError(f"unknown time zone {timezone!r}: use e.g. UTC") from None
        assert self.cron is not None
        return cron_trigger(self.cron, timezone, where=f"job {self.name!r}")

    def describe(self) -> str:
        when = f"cron '{self.cron}'" if self.cron else f"every {self.every_seconds:g} s"
        if self.kind == HISTORY_KIND:
            return f"{self.name}: change points of the performance history, {when}"
        if self.kind == AB_KIND:
            b = self.candidate or "the current settings"
            return f"{self.name}: A/B {self.baseline} vs {b} x{self.rounds} rounds, {when}"
        quick = " QUICK" if self.quick else ""
        return f"{self.name}: {'+'.join(self.suites)}{quick} x{self.repeat}, {when}"


@dataclasses.dataclass(frozen=True)
class Schedule:
    """All jobs plus the scheduler and verdict settings."""

    jobs: tuple[Job, ...]
    policy: VerdictPolicy = VerdictPolicy()
    timezone: str = "UTC"
    # Late runs (scheduler down, previous run still busy) still run, once
    # (coalesced), when they are at most this late; older ones are logged
    # and counted as missed, never dropped silently.
    misfire_grace_seconds: float = 6 * 3600.0
    source: str = "built-in defaults"

    def job(self, name: str) -> Job:
        """The job called ``name``.

        Raises:
            UsageError: no such job.
        """
        for job in self.jobs:
            if job.name == name:
                return job
        known = ", ".join(j.name for j in self.jobs) or "none"
        raise UsageError(f"unknown job {name!r} in {self.source}; known jobs: {known}")


DEFAULT_JOBS = (
    Job(name="nightly-performance", suites=("performance",), cron="0 2 * * *", repeat=3),
    Job(
        name="hourly-delivery",
        suites=("delivery",),
        cron="0 * * * *",
        quick=True,
        repeat=1,
        timeout_seconds=3000.0,
    ),
)


def cron_trigger(expr: str, timezone: str = "UTC", where: str = "cron") -> CronTrigger:
    """Parse a 5-field crontab expression.

    Raises:
        UsageError: not 5 fields, or a field apscheduler rejects.
    """
    if len(expr.split()) != 5:
        raise UsageError(
            f"{where}: invalid cron expression {expr!r}: "
            "write 5 fields: minute hour day-of-month month day-of-week"
        )
    try:
        return CronTrigger.from_crontab(expr, timezone=timezone)
    except KeyError:
        raise UsageError(f"unknown time zone {timezone!r}: use e.g. UTC") from None
    except ValueError as e:
        raise UsageError(f"{where}: invalid cron expression {expr!r}: {e}") from None


def load_schedule(settings: Settings) -> Schedule:
    """Read and validate the schedule file of ``settings``.

    Raises:
        UsageError: the file is unreadable or invalid, or a job is invalid.
    """
    path = Path(settings.schedule_file).expanduser()
    if not path.is_file():
        if settings.schedule_file == DEFAULT_SCHEDULE_FILE:
            return Schedule(jobs=DEFAULT_JOBS)
        raise UsageError(f"schedule file {path} not found: fix schedule_file or create it")
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as e:
        raise UsageError(f"cannot read schedule file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"schedule file {path} is not valid TOML: {e}") from None
    return parse_schedule(raw, source=str(path))


def parse_schedule(raw: Mapping[str, Any], source: str = "schedule") -> Schedule:
    """Validate a parsed schedule document (see the module docstring).

    Raises:
        UsageError: unknown keys, bad types or values, duplicate job names.
    """
    _known_keys(raw, {"scheduler", "verdict", "job"}, source)
    sched = _table(raw, "scheduler", source)
    _known_keys(sched, {"timezone", "misfire_grace_seconds"}, f"{source} [scheduler]")
    timezone = str(sched.get("timezone", "UTC"))
    grace = _number(sched.get("misfire_grace_seconds", 6 * 3600.0), "misfire_grace_seconds", source)
    if grace <= 0:
        raise UsageError(f"{source}: misfire_grace_seconds must be > 0, not {grace:g}")
    policy = _policy(_table(raw, "verdict", source), source)
    raw_jobs = raw.get("job", [])
    if not isinstance(raw_jobs, list) or not raw_jobs:
        raise UsageError(f"{source}: no jobs: add at least one [[job]] table")
    jobs = tuple(parse_job(j, source) for j in raw_jobs)
    names = [j.name for j in jobs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"{source}: duplicate job name(s): {', '.join(dupes)}")
    for job in jobs:
        job.trigger(timezone)  # validates cron and timezone now, not at 2 am
    return Schedule(jobs, policy, timezone, grace, source)


_JOB_KEYS = {
    "name",
    "cron",
    "every_seconds",
    "suites",
    "quick",
    "repeat",
    "profiles",
    "scenarios",
    "timeout_seconds",
    "reports",
    "perf_args",
    "delivery_args",
    "kind",
    "baseline",
    "candidate",
    "rounds",
}


def parse_job(raw: Any, source: str = "schedule") -> Job:
    """Validate one ``[[job]]`` table.

    Raises:
        UsageError: a missing name, no or two triggers, unknown suite, bad repeat.
    """
    if not isinstance(raw, Mapping):
        raise UsageError(f"{source}: each [[job]] must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
        raise UsageError(f"{source}: every job needs a name without spaces, got {name!r}")
    where = f"{source} job {name!r}"
    _known_keys(raw, _JOB_KEYS, where)
    cron, every = raw.get("cron"), raw.get("every_seconds")
    if (cron is None) == (every is None):
        raise UsageError(f"{where}: give exactly one of cron or every_seconds")
    if cron is not None and not isinstance(cron, str):
        raise UsageError(f'{where}: cron must be a string like "0 2 * * *"')
    every_s = None if every is None else _number(every, "every_seconds", where)
    if every_s is not None and every_s <= 0:
        raise UsageError(f"{where}: every_seconds must be > 0, not {every_s:g}")
    kind = raw.get("kind", SUITES_KIND)
    if kind not in JOB_KINDS:
        raise UsageError(f"{where}: unknown kind {kind!r}; known: {', '.join(JOB_KINDS)}")
    if kind == HISTORY_KIND:
        stray = sorted(set(raw) & (_JOB_KEYS - {"name", "cron", "every_seconds", "kind"}))
        if stray:
            raise UsageError(f"{where}: a history job runs no suite: drop {', '.join(stray)}")
        return Job(name=name, suites=(), cron=cron, every_seconds=every_s, kind=kind, repeat=1)
    if kind == AB_KIND:
        return _ab_job(raw, name, cron, every_s, where)
    stray = sorted(set(raw) & {"baseline", "candidate", "rounds"})
    if stray:
        raise UsageError(f'{where}: {", ".join(stray)} belong to kind = "ab" jobs')
    suites = _str_list(raw.get("suites", ["performance"]), "suites", where)
    unknown = [s for s in suites if s not in SUITES]
    if not suites or unknown:
        known = ", ".join(SUITES)
        raise UsageError(f"{where}: unknown suite(s) {unknown or suites}; known: {known}")
    repeat = raw.get("repeat", MIN_REPEAT)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise UsageError(f"{where}: repeat must be a whole number >= 1, not {repeat!r}")
    if "performance" in suites and repeat < MIN_REPEAT:
        raise UsageError(
            f"{where}: repeat {repeat} is too few for the performance verdict; "
            f"use >= {MIN_REPEAT} (the rank test needs repetitions)"
        )
    quick, reports = raw.get("quick", False), raw.get("reports", True)
    if not isinstance(quick, bool) or not isinstance(reports, bool):
        raise UsageError(f"{where}: quick and reports must be true or false")
    timeout = _timeout(raw, where)
    return Job(
        name=name,
        suites=tuple(suites),
        cron=cron,
        every_seconds=every_s,
        quick=quick,
        repeat=repeat,
        profiles=tuple(_str_list(raw.get("profiles", []), "profiles", where)),
        scenarios=tuple(_str_list(raw.get("scenarios", []), "scenarios", where)),
        timeout_seconds=timeout,
        reports=reports,
        perf_args=tuple(_str_list(raw.get("perf_args", []), "perf_args", where)),
        delivery_args=tuple(_str_list(raw.get("delivery_args", []), "delivery_args", where)),
    )


def _timeout(raw: Mapping[str, Any], where: str) -> float:
    timeout = _number(raw.get("timeout_seconds", 4 * 3600.0), "timeout_seconds", where)
    if timeout <= 0:
        raise UsageError(f"{where}: timeout_seconds must be > 0")
    return timeout


def _ab_job(
    raw: Mapping[str, Any], name: str, cron: str | None, every: float | None, where: str
) -> Job:
    allowed = {"name", "cron", "every_seconds", "kind", "baseline", "candidate", "rounds"}
    allowed |= {"quick", "profiles", "timeout_seconds"}
    stray = sorted(set(raw) - allowed)
    if stray:
        raise UsageError(f"{where}: an A/B job takes no {', '.join(stray)}")
    baseline, candidate = raw.get("baseline"), raw.get("candidate")
    if not isinstance(baseline, str) or not baseline.strip():
        raise UsageError(f'{where}: an A/B job needs baseline = "A.toml" (the pinned side)')
    if candidate is not None and not isinstance(candidate, str):
        raise UsageError(f"{where}: candidate must be the path of a side file")
    rounds = raw.get("rounds", AB_ROUNDS)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < MIN_REPEAT:
        raise UsageError(f"{where}: rounds must be a whole number >= {MIN_REPEAT}, not {rounds!r}")
    quick = raw.get("quick", False)
    if not isinstance(quick, bool):
        raise UsageError(f"{where}: quick must be true or false")
    timeout = _timeout(raw, where)
    return Job(
        name=name,
        suites=(AB_SUITE,),
        cron=cron,
        every_seconds=every,
        quick=quick,
        repeat=1,
        profiles=tuple(_str_list(raw.get("profiles", []), "profiles", where)),
        timeout_seconds=timeout,
        reports=False,
        kind=AB_KIND,
        baseline=baseline,
        candidate=candidate,
        rounds=rounds,
    )


def _policy(raw: Mapping[str, Any], source: str) -> VerdictPolicy:
    _known_keys(raw, {f.name for f in dataclasses.fields(VerdictPolicy)}, f"{source} [verdict]")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "metrics":
            values[key] = tuple(_str_list(value, key, f"{source} [verdict]"))
            continue
        values[key] = _number(value, key, f"{source} [verdict]")
        if key in ("resamples", "seed", "min_samples"):
            values[key] = int(values[key])
    try:
        return VerdictPolicy(**values)
    except ValueError as e:
        raise UsageError(f"{source} [verdict]: {e}") from None


def _table(raw: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise UsageError(f"{source}: [{key}] must be a table")
    return value


def _known_keys(raw: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UsageError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )


def _number(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{where}: {key} must be a number, not {value!r}")
    return float(value)


def _str_list(value: Any, key: str, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: {key} must be a list of names")
    return list(value)
