"""``kafkaval delivery run|plan``: the delivery-guarantee suite."""

from __future__ import annotations

import argparse
import sys
import threading

from chaos.metrics import DeliveryMetrics
from chaos.scenarios import Timing
from chaos.suite import (
    default_cluster,
    own_shape,
    plan,
    run_suite,
    shapes_of,
    table,
    validate_scenarios,
)
from kafkaval.config import Settings
from kafkaval.errors import UsageError
from kafkaval.junit import run_with_junit
from kafkaval.signals import stop_on_signals
from kafkaval.tags import add_gating_arguments, parse_tags, tagged
from kafkaval.targets import serve_metrics

# The delivery runner's /metrics: metrics_port + this (loadgen workers use the low ones).
METRICS_PORT_OFFSET = 90


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="short durations (same code path)")
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this scenario (repeatable; default all)",
    )
    p.add_argument(
        "--cluster",
        default=None,
        choices=("single", "3-broker", "both"),
        help="cluster shape(s) to run on (default: both on the local stack, which starts "
        "the other shape itself; the configured Kafka's own shape otherwise)",
    )
    p.add_argument("--target", help="broker to fault (default: the leader of partition 0)")
    p.add_argument(
        "--fault-seconds", type=float, help="how long a partition lasts (default 15, --quick 14)"
    )


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    delivery = sub.add_parser("delivery", help="check that nothing is lost when things break")
    verbs = delivery.add_subparsers(
        dest="delivery_verb", metavar="run|plan", parser_class=type(delivery)
    )
    run = verbs.add_parser("run", parents=[parent], help="run the delivery scenarios")
    _options(run)
    run.add_argument("--dry-run", action="store_true", help="print the plan, touch nothing")
    add_gating_arguments(run, "a testcase per scenario and per bound")
    run.set_defaults(func=cmd_run)
    pl = verbs.add_parser("plan", parents=[parent], help="print the plan, touch nothing")
    _options(pl)
    pl.set_defaults(func=cmd_plan)


def _timing(args: argparse.Namespace) -> Timing:
    timing = Timing.quick() if args.quick else Timing()
    if args.fault_seconds is not None:
        if args.fault_seconds <= 0:
            raise UsageError(f"--fault-seconds must be > 0, not {args.fault_seconds:g}")
        timing = Timing(**{**timing.__dict__, "partition": args.fault_seconds})
    return timing


def cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    names = validate_scenarios(args.scenario)
    shapes = shapes_of(args.cluster or default_cluster(settings))
    timing = _timing(args)
    print("\n".join(plan(names, shapes, timing, args.target)))
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    names = validate_scenarios(args.scenario)
    shapes = shapes_of(args.cluster or default_cluster(settings))
    timing = _timing(args)
    if args.dry_run:
        print("dry run: nothing is touched")
        print("\n".join(plan(names, shapes, timing, args.target)))
        return 0
    if args.target:
        # Refuse a target chaos may not touch before anything starts.
        from chaos.binding import bind, cluster_identity
        from chaos.docker_backend import docker_target
        from chaos.safety import local_targets, require_running, resolve_target

        target = resolve_target(
            settings,
            args.target,
            local_targets(settings),
            container=lambda name: docker_target(settings, name),
        )
        if shapes == [own_shape(settings)]:
            # The configured Kafka is the cluster under test: the target must be
            # one of its brokers. (Another shape's stack is checked when it is up.)
            require_running(target)
            bind(target, cluster_identity(settings.client_config()))
    tags = parse_tags(args.tag)
    metrics = DeliveryMetrics()
    stop = threading.Event()
    port = settings.metrics_port + METRICS_PORT_OFFSET
    with (
        stop_on_signals(stop.set),
        serve_metrics(
            settings, tagged(metrics, tags), port, "kafkaval-delivery", "runner", "metrics"
        ),
    ):
        record = run_with_junit(args.junit, "delivery", lambda: run_suite(
            settings, names, shapes, args.quick, target=args.target, metrics=metrics,
            stop=stop, timing=timing, tags=tags,
            say=lambda line: print(line, flush=True),
        ), settings.secret_values())  # fmt: skip
    print()
    print(table(record))
    print(f"\nrun record: {settings.path('results_dir')}/delivery-{record['run_id']}.json")
    if record["interrupted"]:
        print("interrupted: faults were undone; results not judged", file=sys.stderr)
        return 130
    return 0 if record["passed"] else 1
