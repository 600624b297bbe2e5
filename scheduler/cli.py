"""``kafkaval schedule`` and ``kafkaval baseline accept|show|compare``."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.files import ensure_writable_dir
from kafkaval.records import load_run_record
from kafkaval.targets import MetricsServer, announced
from scheduler import baseline, comparison, history
from scheduler.jobs import load_schedule
from scheduler.metrics import SchedulerCollector, SchedulerState
from scheduler.runner import JobRunner, SchedulerService, StopControl, install_signal_handlers

# The scheduler's /metrics port, relative to settings.metrics_port (loadgen
# workers use metrics_port + i for small i).
METRICS_PORT_OFFSET = 95


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    sch = sub.add_parser(
        "schedule",
        parents=[parent],
        help="run the scheduled regression jobs (long-lived; SIGTERM stops after the current run)",
    )
    sch.add_argument("--once", metavar="JOB", help="run this job now, once, and exit")
    sch.add_argument("--list", action="store_true", help="print the jobs and exit")
    sch.add_argument(
        "--schedule-file",
        dest="settings_schedule_file",
        help="the jobs (TOML; default schedule.toml or built-in jobs)",
    )
    sch.add_argument(
        "--metrics-port",
        type=int,
        help=f"/metrics port (default metrics_port + {METRICS_PORT_OFFSET}; 0: none)",
    )
    sch.set_defaults(func=cmd_schedule)

    base = sub.add_parser("baseline", help="accept, show or compare against the baseline")
    verbs = base.add_subparsers(
        dest="baseline_verb", metavar="accept|show|compare", parser_class=type(base)
    )
    acc = verbs.add_parser("accept", parents=[parent], help="make run(s) the baseline")
    acc.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    acc.set_defaults(func=cmd_accept)
    show = verbs.add_parser("show", parents=[parent], help="the baseline and its history")
    show.set_defaults(func=cmd_show)
    cmp_ = verbs.add_parser(
        "compare",
        parents=[parent],
        help="verdict of a run vs the baseline (exit 1 on a regression)",
    )
    cmp_.add_argument(
        "run_id",
        nargs="?",
        metavar="RUN_ID",
        help="a performance, delivery or scheduled run (default: the latest)",
    )
    cmp_.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    cmp_.add_argument(
        "--schedule-file",
        dest="settings_schedule_file",
        help="where the [verdict] thresholds are read",
    )
    cmp_.set_defaults(func=cmd_compare)


def cmd_schedule(args: argparse.Namespace, settings: Settings) -> int:
    schedule = load_schedule(settings)
    if args.list:
        print(f"jobs from {schedule.source}:")
        for job in schedule.jobs:
            print(f"  {job.describe()}")
        return 0
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    results = settings.path("results_dir")
    ensure_writable_dir(results)
    stop = StopControl()
    state = SchedulerState(j.name for j in schedule.jobs)
    runner = JobRunner(settings, schedule, state=state, stop=stop)
    install_signal_handlers(stop)
    with _metrics_endpoint(settings, state, args.metrics_port):
        if args.once:
            # The long-lived service loads the history itself (SchedulerService.start);
            # loading it here too would count every past run twice.
            state.load(history.history_by_job(results))
            record = runner.run(schedule.job(args.once))
            _print_run(record)
            return 0 if record["status"] == "ok" else 1
        service = SchedulerService(runner)
        service.start()
        for job in schedule.jobs:
            print(f"scheduled {job.describe()}", file=sys.stderr)
        service.serve()
    return 0


@contextlib.contextmanager
def _metrics_endpoint(
    settings: Settings, state: SchedulerState, port: int | None
) -> Iterator[None]:
    port = settings.metrics_port + METRICS_PORT_OFFSET if port is None else port
    if port == 0:
        yield
        return
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SchedulerCollector(state))
    try:
        server = MetricsServer(registry, settings.metrics_host, port)
    except OSError as e:
        raise KafkavalError(
            f"cannot serve metrics on {settings.metrics_host}:{port} ({e.strerror}); "
            "pick another --metrics-port"
        ) from None
    # No lingering: the scheduler's figures live in its records, not in a last scrape.
    with announced(settings, server, "kafkaval-scheduler", "scheduler", linger=False):
        yield


def _print_run(record: dict) -> None:
    print(f"run {record['run_id']} of {record['job']}: {record['status']}")
    for err in record.get("errors", []):
        print(f"  error: {err}")
    for note in record.get("notes", []):
        print(f"  note: {note}")
    for metric in record.get("regressions", []):
        print(f"  REGRESSION: {metric}")


def cmd_accept(args: argparse.Namespace, settings: Settings) -> int:
    entry = baseline.accept(settings.path("results_dir"), args.run_ids)
    print(f"baseline is now {', '.join(entry['run_ids'])} (accepted {entry['accepted_at']})")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    results = settings.path("results_dir")
    doc = baseline.load_baselines(results)
    if not doc.get("current"):
        proposal = baseline.propose(results)
        if proposal:
            print(
                f"no baseline yet; the first good run is {proposal}: "
                f"kafkaval baseline accept {proposal}"
            )
        else:
            print("no baseline yet and no passed performance run: run the suite first")
        return 0
    cur = doc["current"]
    print(f"baseline: {', '.join(cur['run_ids'])} (accepted {cur['accepted_at']})")
    for entry in reversed(doc.get("history", [])[:-1]):
        print(f"  earlier: {', '.join(entry['run_ids'])} (accepted {entry['accepted_at']})")
    return 0


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    results = settings.path("results_dir")
    schedule = load_schedule(settings)
    run_ids = [args.run_id] if args.run_id else [_latest_run_id(results)]
    candidate = baseline.load_records(results, run_ids)
    base_ids = baseline.current_baseline(results)
    if not base_ids:
        proposal = baseline.propose(results)
        hint = f"; the first good run is {proposal}: kafkaval baseline accept {proposal}"
        raise UsageError("no baseline accepted yet" + (hint if proposal else ": run a suite first"))
    verdicts = comparison.compare(
        baseline.load_records(results, base_ids), candidate, schedule.policy
    )
    if args.json:
        print(json.dumps([v.to_dict() for v in verdicts], indent=2))
    else:
        print(f"run {', '.join(run_ids)} vs baseline {', '.join(base_ids)}")
        print(comparison.format_table(verdicts))
    found = comparison.regressions(verdicts)
    if found and not args.json:
        print(f"REGRESSION in {len(found)} metric(s): {', '.join(v.metric for v in found)}")
    return 1 if found else 0


def _latest_run_id(results: Path) -> str:
    path = results / "latest-performance.json"
    if not path.is_file():
        raise UsageError(f"no {path}: give a RUN_ID or run the performance suite first")
    return load_run_record(path, "performance")["run_id"]
