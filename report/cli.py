"""``kafkaval report``: regenerate both reports from the latest run records."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from kafkaval.config import Settings
from kafkaval.environment import stack_kind
from kafkaval.errors import KafkavalError
from kafkaval.prom_client import PromClient
from kafkaval.prom_queries import QueryRunner, WindowEmpty
from kafkaval.records import load_run_record, utc_now
from report.cdc import collect_cdc
from report.render import REPORT_KINDS, Rendered, build_delivery, build_performance, write_reports
from report.trend import collect_trend

SUITE_COMMANDS = {
    "performance": "make test-kafka-performance",
    "delivery": "make test-kafka-delivery",
}


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "report",
        parents=[parent],
        help="write reports/performance-baseline.md and delivery-guarantees.md (latest runs)",
    )
    p.add_argument("--reports-dir", dest="settings_reports_dir", help="where reports are written")
    p.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    p.add_argument(
        "--require",
        action="append",
        choices=sorted(REPORT_KINDS),
        help="a report that must be built from Prometheus, else exit 1 (repeatable; default: "
        "every report with a run record). The others are written from their run record if "
        "Prometheus lacks their window",
    )
    p.set_defaults(func=cmd_report)


def generate(
    settings: Settings,
    source: PromClient | None = None,
    now: Callable[[], datetime] = utc_now,
    charts: bool = True,
    out: TextIO = sys.stdout,
    require: Collection[str] | None = None,
) -> list[Path]:
    """Build every report whose run record exists, write them all, then judge.

    Each report stands on its own: one whose run window Prometheus no longer
    holds is written from the run record's exact figures, marked as such at
    its top; one that cannot be built now (Prometheus unreachable, a query
    rejected, a damaged record) is skipped and its previous file left as it
    was. Either way one line on ``out`` says why, and the other reports are
    still written.

    Args:
        settings: results_dir, reports_dir, prometheus_url, scrape_interval are used.
        source: Prometheus client; one for settings.prometheus_url by default.
        now: the clock stamped into the reports.
        charts: draw PNG charts.
        out: where the one-line notes (skipped reports, files written) go.
        require: the kinds that must be built from Prometheus (a suite names its
            own); None: every kind that has a run record.

    Raises:
        KafkavalError: no run record at all, the reports cannot be written, or a
            required report could only be built from its record or not at all
            (raised after everything else was written).
    """
    source = source or PromClient(settings.prometheus_url)
    runner = QueryRunner(source, settings.scrape_interval)
    results = settings.path("results_dir")
    built: list[Rendered] = []
    shortfalls: dict[str, str] = {}
    seen = []
    for kind in REPORT_KINDS:
        path = results / f"latest-{kind}.json"
        if not path.exists():
            print(f"skipped {kind} report: no {path} (run {SUITE_COMMANDS[kind]})", file=out)
            continue
        seen.append(kind)
        env = fallback_environment(settings)
        try:
            build = _builder(kind, path, now, env)
            try:
                built.append(build(runner, charts))
                continue
            except WindowEmpty as e:
                reason = str(e)
            only = QueryRunner.record_only_runner(reason, settings.scrape_interval)
            built.append(build(only, False))
            shortfalls[kind] = f"written from the run record only: {reason}"
        except KafkavalError as e:
            shortfalls[kind] = f"skipped: {e}"
        print(f"{kind} report {shortfalls[kind]}", file=out)
    if not seen:
        raise KafkavalError(
            f"no run records in {results}: run make test-kafka-performance or "
            "make test-kafka-delivery first"
        )
    written = write_reports(built, settings.path("reports_dir"))
    for rep in built:
        print(f"wrote {settings.path('reports_dir') / rep.filename}", file=out)
    failed = [k for k in (seen if require is None else require) if k in shortfalls]
    if failed:
        written_note = " (the other reports were written)" if built else ""
        raise KafkavalError("; ".join(f"{k} report {shortfalls[k]}" for k in failed) + written_note)
    return written


def _builder(
    kind: str, path: Path, now: Callable[[], datetime], env: dict[str, Any]
) -> Callable[[QueryRunner, bool], Rendered]:
    """Read the run record of ``kind`` at ``path``; its report over a runner, charts or not.

    Raises:
        KafkavalError: the record cannot be read (``load_run_record``).
    """
    if kind == "performance":
        perf = load_run_record(path, "performance")
        trend = collect_trend(path.parent)
        return lambda runner, charts: build_performance(
            perf, runner, now(), charts, env, trend, collect_cdc(path.parent, runner)
        )
    delivery = load_run_record(path, "delivery")
    return lambda runner, charts: build_delivery(delivery, runner, now(), charts, env)


def fallback_environment(settings: Settings) -> dict[str, Any]:
    """Environment facts from the configuration, for records that do not carry them."""
    from stack import kafka, local

    is_local = bool(local.running(settings))
    return {
        "stack_kind": stack_kind(is_local),
        "kafka_version": settings.kafka_version + ("" if is_local else " (configured, unverified)"),
        "brokers": settings.brokers,
        "bootstrap_servers": settings.bootstrap_servers
        if not is_local
        else kafka.bootstrap_of(settings),
    }


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    generate(settings, charts=not args.no_charts, require=args.require)
    return 0
