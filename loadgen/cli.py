"""``kafkaval perf run|compare|overhead``: the performance suite and its benchmarks."""

from __future__ import annotations

import argparse

from kafkaval.config import Settings, parse_props
from kafkaval.errors import UsageError
from loadgen import ab
from loadgen.profiles import PROFILES, parse_threshold_overrides


def _rate(text: str) -> float | str:
    return "max" if text.strip().lower() == "max" else _positive_float(text)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, not {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    perf = sub.add_parser("perf", help="the performance suite and load-generator benchmarks")
    verbs = perf.add_subparsers(
        dest="perf_verb", metavar="run|compare|overhead", parser_class=type(perf)
    )
    run = verbs.add_parser("run", parents=[parent], help="run the benchmarks with thresholds")
    run.add_argument("--quick", action="store_true", help="scaled-down sizes, same code path")
    run.add_argument(
        "--repeat",
        type=_positive_int,
        default=1,
        help="run each benchmark N times; report median and spread",
    )
    run.add_argument(
        "--profile",
        action="append",
        dest="profiles",
        metavar="NAME",
        help=f"run only these (repeatable): {', '.join(PROFILES)}",
    )
    run.add_argument(
        "--rate",
        type=_rate,
        help="target rate (msg/s) of the measured phase, other phases scale along; "
        "'max': as fast as the broker takes it (no rate or latency limit then)",
    )
    run.add_argument(
        "--duration",
        type=_positive_float,
        help="seconds of the measured phase (its count = rate x duration)",
    )
    run.add_argument(
        "--key-space",
        type=_positive_int,
        default=100_000,
        help="message keys (row primary keys) drawn uniformly from 1..N (default 100000)",
    )
    run.add_argument("--record-size", type=_positive_int, help="bytes per message value")
    run.add_argument("--messages", type=_positive_int, help="message count of the measured phase")
    run.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="producer processes sharing the rate, each with its own /metrics",
    )
    run.add_argument(
        "--payload",
        choices=("cdc", "raw"),
        default="cdc",
        help="Debezium-style envelopes (default) or raw padding",
    )
    run.add_argument("--partitions", type=_positive_int, default=3, help="partitions per topic")
    run.add_argument(
        "--replication-factor", type=_positive_int, help="default: 1 (3 with a 3-broker stack)"
    )
    run.add_argument(
        "--topic-prefix",
        dest="settings_topic_prefix",
        help="prefix of the test topics (default 'kafkaval.')",
    )
    run.add_argument("--keep-topics", action="store_true", help="do not delete the run's topics")
    run.add_argument(
        "--producer-prop",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="librdkafka producer property for this run (repeatable)",
    )
    run.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a threshold, e.g. max_p95_service_seconds=0.2",
    )
    run.add_argument("--no-progress", action="store_true", help="no live progress line")
    run.add_argument(
        "--metrics-port",
        dest="settings_metrics_port",
        type=int,
        help="base port of the /metrics endpoints",
    )
    run.set_defaults(func=cmd_run)

    cmp = verbs.add_parser(
        "compare",
        parents=[parent],
        help="side by side with Kafka's ProducerPerformance (a benchmark)",
    )
    cmp.add_argument("--quick", action="store_true", help="short cases")
    cmp.add_argument("--sizes", default="100,1024,5120", help="record sizes (bytes), comma list")
    cmp.add_argument("--messages", type=_positive_int, help="messages per max-rate case")
    cmp.add_argument("--workers", type=_positive_int, default=1, help="loadgen producer processes")
    cmp.set_defaults(func=cmd_compare)

    ovh = verbs.add_parser(
        "overhead",
        parents=[parent],
        help="accounting overhead micro-benchmark (librdkafka mock cluster)",
    )
    ovh.add_argument("--messages", type=_positive_int, default=200_000)
    ovh.add_argument("--record-size", type=_positive_int, default=1024)
    ovh.add_argument(
        "--rounds", type=_positive_int, default=10, help="runs of each loop (verdict: median)"
    )
    ovh.set_defaults(func=cmd_overhead)

    ab.register(verbs, parent)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from loadgen.suite import SuiteOptions, run_suite

    opts = SuiteOptions(
        quick=args.quick,
        repeat=args.repeat,
        profiles=args.profiles,
        rate=args.rate,
        record_size=args.record_size,
        messages=args.messages,
        duration=args.duration,
        key_space=args.key_space,
        workers=args.workers,
        keep_topics=args.keep_topics,
        payload=args.payload,
        partitions=args.partitions,
        replication_factor=args.replication_factor,
        thresholds=parse_threshold_overrides(args.threshold),
        producer_props=parse_props(args.producer_prop, "--producer-prop"),
        progress=False if args.no_progress else None,
    )
    record = run_suite(settings, opts)
    return 0 if record["passed"] else 1


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from loadgen.compare import run_compare

    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--sizes needs comma-separated byte counts, not {args.sizes!r}") from None
    run_compare(settings, sizes, quick=args.quick, messages=args.messages, workers=args.workers)
    return 0


def cmd_overhead(args: argparse.Namespace, settings: Settings) -> int:
    from loadgen.overhead import run_overhead

    # A benchmark prints figures (as bench-compare does); it is not a check.
    run_overhead(
        args.messages,
        args.record_size,
        args.rounds,
        settings.path("results_dir") / "bench-overhead.json",
    )
    return 0
