"""Adapter from a scheduled job to the suites and the reports.

Each suite runs as a child process of the ``kafkaval`` command (``perf run``,
``delivery run``, ``report``), not in the scheduler's process. Why: a suite
owns signal handling and fault rollback, opens its metrics endpoint and
registers its collectors; doing that in a long-lived scheduler thread would
clash (signals reach only the main thread, a registry refuses duplicate
collectors on the second run) and a crash would take the scheduler down. The
child gets the scheduler's exact Settings through a temporary config file.

The run's records are the files the child added to the results folder, so the
adapter needs nothing from a suite but its documented command line and its
run records.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from chaos.faults import LONGEST_UNDO_SECONDS
from kafkaval.config import Settings, secret_environment
from kafkaval.redact import is_secret
from scheduler.jobs import AB_SUITE, Job

log = logging.getLogger(__name__)

# suite -> (module that must exist, kafkaval verb words, record kind)
SUITE_COMMANDS: dict[str, tuple[str, list[str], str]] = {
    "performance": ("loadgen.cli", ["perf", "run"], "performance"),
    "delivery": ("chaos.cli", ["delivery", "run"], "delivery"),
    # the one "suite" of a kind = "ab" job: interleaved A/B rounds
    AB_SUITE: ("loadgen.cli", ["perf", "ab"], "ab"),
}
# Seconds a child gets between SIGTERM and SIGKILL to roll back its faults:
# the longest undo of a fault in progress, then a minute to stop its consumers
# and write its record.
TERM_GRACE = LONGEST_UNDO_SECONDS + 60.0


@dataclasses.dataclass
class SuiteOutcome:
    """What the suites of one run produced."""

    run_ids: list[str] = dataclasses.field(default_factory=list)
    records: list[Path] = dataclasses.field(default_factory=list)
    exit_codes: dict[str, int] = dataclasses.field(default_factory=dict)
    errors: list[str] = dataclasses.field(default_factory=list)
    aborted: bool = False


# (job, settings, abort requested?) -> outcome; the runner takes any such function.
SuiteFunc = Callable[[Job, Settings, Callable[[], bool]], SuiteOutcome]
ReportFunc = Callable[[Settings, Callable[[], bool]], str | None]


def settings_toml(settings: Settings) -> str:
    """The Settings as a TOML config file (strings JSON-quoted, which TOML accepts),
    without secret client properties (``secret_environment`` carries those)."""
    lines, tables = [], []
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if isinstance(value, dict):
            body = "\n".join(
                f"{json.dumps(k)} = {json.dumps(str(v))}"
                for k, v in value.items()
                if not is_secret(k)
            )
            tables.append(f"[{field.name}]\n{body}\n")
        elif isinstance(value, list):
            lines.append(f"{field.name} = [{', '.join(json.dumps(str(v)) for v in value)}]")
        elif isinstance(value, bool | int | float):
            lines.append(f"{field.name} = {json.dumps(value)}")
        else:
            lines.append(f"{field.name} = {json.dumps(str(value))}")
    return "\n".join(lines) + "\n\n" + "\n".join(tables)


def suite_args(job: Job, suite: str) -> list[str]:
    """The ``kafkaval`` arguments for one suite of ``job``."""
    _, verb, _ = SUITE_COMMANDS[suite]
    args = list(verb)
    if job.quick:
        args.append("--quick")
    if suite == AB_SUITE:
        args += ["--a", str(job.baseline), "--rounds", str(job.rounds)]
        args += ["--b", job.candidate] if job.candidate else []
        for profile in job.profiles:
            args += ["--profile", profile]
    elif suite == "performance":
        args += ["--repeat", str(job.repeat)]
        for profile in job.profiles:
            args += ["--profile", profile]
        args += job.perf_args
    else:
        for scenario in job.scenarios:
            args += ["--scenario", scenario]
        args += job.delivery_args
    return args


def run_suites(job: Job, settings: Settings, should_abort: Callable[[], bool]) -> SuiteOutcome:
    """Run every suite of ``job`` in order and collect the run records they wrote.

    A suite that is missing, crashes or writes no record is an error in the
    outcome, not an exception: the scheduler records the run as failed.
    """
    outcome = SuiteOutcome()
    deadline = time.monotonic() + job.timeout_seconds
    results = settings.path("results_dir")
    for suite in job.suites:
        module, _, kind = SUITE_COMMANDS[suite]
        if (
            importlib.util.find_spec(module.split(".")[0]) is None
            or importlib.util.find_spec(module) is None
        ):
            outcome.errors.append(f"{suite} suite is not installed ({module} missing)")
            continue
        before = set(results.glob(f"{kind}-*.json")) if results.is_dir() else set()
        code = run_kafkaval(suite_args(job, suite), settings, deadline, should_abort)
        outcome.exit_codes[suite] = code
        new = sorted(set(results.glob(f"{kind}-*.json")) - before) if results.is_dir() else []
        outcome.records += new
        outcome.run_ids += [p.stem.removeprefix(f"{kind}-") for p in new]
        if should_abort():
            outcome.aborted = True
            break
        if code not in (0, 1) or not new:
            # 1 means thresholds failed with a record written; anything else broke.
            outcome.errors.append(f"{suite} suite exited {code} and wrote {len(new)} record(s)")
    return outcome


def run_reports(settings: Settings, should_abort: Callable[[], bool]) -> str | None:
    """Regenerate the reports; the one-line error, or None when they were written."""
    if importlib.util.find_spec("report") is None or importlib.util.find_spec("report.cli") is None:
        return "reports skipped: the report component is not installed"
    deadline = time.monotonic() + 600
    code = run_kafkaval(["report"], settings, deadline, should_abort)
    return None if code == 0 else f"report generation exited {code} (see the scheduler log)"


def run_kafkaval(
    args: Sequence[str],
    settings: Settings,
    deadline: float,
    should_abort: Callable[[], bool],
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run ``python -m kafkaval ARGS`` with ``settings``; its exit code.

    The child is stopped (SIGTERM, then SIGKILL after TERM_GRACE) at the
    deadline or when ``should_abort`` turns true; it runs in its own session
    so a terminal's Ctrl-C reaches the scheduler first, which decides.
    """
    env = {k: v for k, v in (environ or os.environ).items() if not k.startswith("KAFKAVAL_")}
    with tempfile.NamedTemporaryFile("w", suffix=".toml", prefix="kafkaval-sched-") as cfg:
        cfg.write(settings_toml(settings))
        cfg.flush()
        env["KAFKAVAL_CONFIG"] = cfg.name
        env.update(secret_environment(settings))
        cmd = [sys.executable, "-m", "kafkaval", *args]
        log.info("running %s", " ".join(cmd))
        proc = subprocess.Popen(cmd, env=env, start_new_session=True)
        try:
            while True:
                try:
                    return proc.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    pass
                if should_abort() or time.monotonic() > deadline:
                    why = "abort requested" if should_abort() else "run timed out"
                    log.warning("%s: stopping %s (pid %d)", why, args[0], proc.pid)
                    return _terminate(proc)
        finally:
            if proc.poll() is None:
                _terminate(proc)


def _terminate(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=TERM_GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=10)
