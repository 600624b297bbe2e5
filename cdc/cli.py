"""``kafkaval cdc up|down|snapshot|connector-restart|load``: the Debezium CDC pipeline."""

from __future__ import annotations

import argparse
import json

from cdc import pipeline
from cdc.changes import ChangeMix
from cdc.config import CdcConfig, load_cdc_config
from cdc.load import MIN_RATE_FRACTION, LoadParams, run_cdc_load
from cdc.restart import RestartParams, run_connector_restart
from cdc.restart_faults import MUTATIONS
from cdc.snapshot import FULL_ROWS, QUICK_ROWS, run_snapshot
from kafkaval.config import Settings
from kafkaval.files import ensure_writable_dir
from kafkaval.record_types import CdcDeliveryRecord, CdcLoadRecord, CdcPerformanceRecord
from kafkaval.verdict import failure, format_check


def _cdc_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("CDC pipeline (also KAFKAVAL_CDC_<FIELD>)")
    g.add_argument("--state-dir", dest="settings_state_dir", help="the local stack's state dir")
    g.add_argument("--pg-port", dest="cdcopt_pg_port", type=int, help="PostgreSQL port (19432)")
    g.add_argument("--pg-user", dest="cdcopt_pg_user", help="PostgreSQL user")
    g.add_argument("--pg-password", dest="cdcopt_pg_password", help="PostgreSQL password")
    g.add_argument("--pg-database", dest="cdcopt_pg_database", help="PostgreSQL database")
    g.add_argument("--connect-port", dest="cdcopt_connect_port", type=int, help="Connect REST port")
    g.add_argument(
        "--connect-url", dest="cdcopt_connect_url", help="attach to an existing Connect (REST URL)"
    )
    g.add_argument("--connector-name", dest="cdcopt_connector_name", help="the connector's name")
    g.add_argument(
        "--connect-container",
        dest="cdcopt_connect_container",
        help="Connect runs in this container (compose): connector-restart kills it; "
        "it must be allowed by chaos_targets",
    )


def cdc_config_from_args(args: argparse.Namespace) -> CdcConfig:
    overrides = {
        k.removeprefix("cdcopt_"): v for k, v in vars(args).items() if k.startswith("cdcopt_")
    }
    return load_cdc_config(overrides=overrides)


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    cdc = sub.add_parser("cdc", help="the Debezium CDC pipeline: up, down, snapshot, restart, load")
    verbs = cdc.add_subparsers(
        dest="cdc_verb", metavar="up|down|snapshot|connector-restart|load", parser_class=type(cdc)
    )
    up = verbs.add_parser(
        "up", parents=[parent], help="start PostgreSQL + Connect, register the connector"
    )
    _cdc_options(up)
    up.set_defaults(func=cmd_up)
    down = verbs.add_parser(
        "down", parents=[parent], help="delete the connector and its slot, stop the processes"
    )
    _cdc_options(down)
    down.set_defaults(func=cmd_down)
    snap = verbs.add_parser(
        "snapshot", parents=[parent], help="cdc-snapshot profile: initial snapshot of N rows"
    )
    _cdc_options(snap)
    snap.add_argument(
        "--rows", type=int, help=f"rows to pre-load (default {FULL_ROWS}, QUICK {QUICK_ROWS})"
    )
    snap.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS} rows")
    snap.add_argument("--no-progress", action="store_true", help="no live progress line")
    snap.set_defaults(func=cmd_snapshot)
    rs = verbs.add_parser(
        "connector-restart",
        parents=[parent],
        help="delivery scenario: SIGKILL of the worker and a graceful connector restart",
    )
    _cdc_options(rs)
    _change_options(rs, rate=40.0, quick_help="short phases")
    rs.add_argument("--phase-seconds", type=float, help="seconds per phase (60; QUICK 15)")
    rs.add_argument(
        "--mutation",
        choices=MUTATIONS,
        help="self-test: replace the graceful restart by an unsafe step; the check must fail",
    )
    rs.set_defaults(func=cmd_connector_restart)
    ld = verbs.add_parser(
        "load",
        parents=[parent],
        help="changes at a target rate: e2e latency, connector lag, exact check",
    )
    _cdc_options(ld)
    ld.add_argument("--no-progress", action="store_true", help="no live progress line")
    _change_options(ld, rate=100.0, quick_help="10 s of load")
    ld.add_argument("--duration", type=float, help="seconds of load (60; QUICK 10)")
    ld.add_argument(
        "--min-rate-fraction",
        type=float,
        default=MIN_RATE_FRACTION,
        help=f"fail below this share of --rate committed ({MIN_RATE_FRACTION:g})",
    )
    ld.set_defaults(func=cmd_load)


def _change_options(p: argparse.ArgumentParser, rate: float, quick_help: str) -> None:
    """The options of the verbs that drive changes into the tables."""
    p.add_argument("--rate", type=float, default=rate, help=f"changes per second ({rate:g})")
    p.add_argument("--mix", default="50:35:15", help="inserts:updates:deletes shares (50:35:15)")
    p.add_argument("--quick", action="store_true", help=quick_help)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    info = pipeline.up(settings, cdc_config_from_args(args))
    print("cdc pipeline up")
    print(info.describe())
    return 0


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    gone = pipeline.down(settings, cdc_config_from_args(args))
    print(f"removed: {', '.join(gone)}" if gone else "nothing of the CDC pipeline was running")
    return 0


def cmd_snapshot(args: argparse.Namespace, settings: Settings) -> int:
    ensure_writable_dir(settings.path("results_dir"))  # found before the load, not after it
    rows = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    show = False if args.no_progress else None
    record = run_snapshot(settings, cdc_config_from_args(args), rows, args.quick, progress=show)
    r = record["results"]
    print(
        f"cdc-snapshot: {r['rows_read']}/{rows} rows, {r['snapshot_events']} events, "
        f"exact={r['exact_count']}, snapshot {r['snapshot_duration_seconds']} s "
        f"({r['snapshot_rows_per_second']} rows/s), all consumed after "
        f"{r['time_to_all_consumed_seconds']} s"
    )
    return _verdict(record)


def cmd_connector_restart(args: argparse.Namespace, settings: Settings) -> int:
    ensure_writable_dir(settings.path("results_dir"))  # found before the load, not after it
    phase = args.phase_seconds or (15.0 if args.quick else 60.0)
    params = RestartParams(
        rate=args.rate, phase_seconds=phase, mix=ChangeMix.parse(args.mix), mutation=args.mutation
    )
    record = run_connector_restart(settings, cdc_config_from_args(args), params)
    r = record["results"]
    print(
        f"connector-restart: {r['committed']} committed, {r['missing']} missing, "
        f"{r['resnapshotted']} re-snapshotted, duplicates "
        + json.dumps(
            {p: f"{v['duplicates']}/{v['duplicate_bound']}" for p, v in r["phases"].items()}
        )
    )
    e2e = r["e2e_latency_seconds"]
    p50, p99, most = e2e["p50"], e2e["p99"], e2e["max"]
    # A count of 0 leaves every figure None.
    if e2e["count"] and p50 is not None and p99 is not None and most is not None:
        print(
            f"end-to-end (commit -> consumed) p50 {p50 * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms, max {most * 1000:.0f} ms "
            f"over {e2e['count']} changes; connector lag p50 {r['connector_lag_ms_p50']} ms"
        )
    return _verdict(record)


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    ensure_writable_dir(settings.path("results_dir"))  # found before the load, not after it
    duration = args.duration or (10.0 if args.quick else 60.0)
    params = LoadParams(
        rate=args.rate,
        duration=duration,
        mix=ChangeMix.parse(args.mix),
        min_rate_fraction=args.min_rate_fraction,
    )
    show = False if args.no_progress else None
    record = run_cdc_load(settings, cdc_config_from_args(args), params, progress=show)
    r = record["results"]
    e2e, lag = r["e2e_latency_seconds"], r["connector_lag_seconds"]

    def ms(seconds: float | None) -> str:
        return f"{seconds * 1000:.0f} ms" if seconds is not None else "-"

    print(
        f"cdc-load: {r['committed']} committed at {r['achieved_rate']:g}/{r['target_rate']:g} "
        f"changes/s, {r['missing']} missing, {r['duplicates']} duplicates; end-to-end "
        f"p50 {ms(e2e['p50'])} p99 {ms(e2e['p99'])}; connector lag p50 {ms(lag['p50'])} "
        f"p99 {ms(lag['p99'])}"
    )
    return _verdict(record)


def _verdict(record: CdcPerformanceRecord | CdcLoadRecord | CdcDeliveryRecord) -> int:
    """Print the run's failed checks and its verdict; the exit code (1: failed)."""
    for line in record["results"]["failures"]:
        print(format_check(failure(line)))
    print("PASS" if record["passed"] else "FAIL")
    return 0 if record["passed"] else 1
