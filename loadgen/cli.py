"""``kafkaval perf run|worker|compare|overhead``: the performance suite and its benchmarks."""

from __future__ import annotations

import argparse
import copy
from typing import TYPE_CHECKING

from kafkaval.config import Settings, parse_props
from kafkaval.errors import UsageError
from kafkaval.tags import add_gating_arguments
from loadgen import ab
from loadgen.distributed import ENGINES
from loadgen.profiles import PROFILES
from loadgen.thresholds import parse_cli

if TYPE_CHECKING:
    from loadgen.options import SuiteOptions


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


# perf run's flags that are the driver's business, not a worker's.
_DRIVER_ONLY = {
    "help", "workers", "repeat", "threshold", "keep_topics", "no_progress", "engine",
    "abort_on_fail", "junit",
}  # fmt: skip


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    perf = sub.add_parser("perf", help="the performance suite and load-generator benchmarks")
    verbs = perf.add_subparsers(
        dest="perf_verb", metavar="run|worker|ab|compare|scale|overhead", parser_class=type(perf)
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
        "--workload",
        action="append",
        dest="workloads",
        default=[],
        metavar="FILE",
        help="run the profile of this workload file (TOML, repeatable); "
        "with --profile both run, without it only the files",
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
        help="message keys (row primary keys) drawn uniformly from 1..N "
        "(default: the profile's, else 100000)",
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
        "--engine",
        choices=ENGINES,
        default="local",
        help="where the workers run: local processes (default), Docker Swarm tasks "
        "(the engine DOCKER_HOST names; image: worker_image), or external (you start "
        "them, e.g. deploy/kubernetes/job.yaml; the run id is printed)",
    )
    run.add_argument(
        "--payload",
        choices=("cdc", "raw"),
        help="Debezium-style envelopes (default) or raw padding",
    )
    run.add_argument("--partitions", type=_positive_int, help="partitions per topic (default 3)")
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
        metavar="EXPR|NAME=VALUE",
        help="add a threshold on a recorded figure, e.g. 'p99(e2e) < 50ms', "
        "'rate(achieved)/rate(target) >= 0.99', 'failed == 0'; or set a named "
        "limit, e.g. max_p95_service_seconds=0.2 (repeatable)",
    )
    run.add_argument(
        "--abort-on-fail",
        action="store_true",
        help="stop the run once a threshold is lost for good (a failed or duplicate "
        "count past its limit); the run then fails",
    )
    add_gating_arguments(run, "a testcase per profile and per threshold")
    run.add_argument("--no-progress", action="store_true", help="no live progress line")
    run.add_argument(
        "--metrics-port",
        dest="settings_metrics_port",
        type=int,
        help="base port of the /metrics endpoints",
    )
    run.set_defaults(func=cmd_run)

    worker = verbs.add_parser(
        "worker",
        help="one worker of a distributed run (what --engine starts; see loadgen/engine_worker.py)",
    )
    # The workload flags of run, copied (not shared: argparse mutates an
    # action's default), so the driver passes its own to each worker.
    for action in run._actions:
        if action.dest not in _DRIVER_ONLY:
            worker._add_action(copy.copy(action))
    worker.add_argument(
        "--workers",
        type=_positive_int,
        help="how many workers the run has (default: $KAFKAVAL_WORKERS)",
    )
    worker.add_argument("--run-id", help="the driver's run id (default: $KAFKAVAL_RUN_ID)")
    worker.add_argument(
        "--worker-index",
        type=_positive_int,
        help="1..N (default: $KAFKAVAL_WORKER_INDEX, or $JOB_COMPLETION_INDEX + 1)",
    )
    worker.set_defaults(func=cmd_worker, repeat=1, threshold=[], keep_topics=False,
                        no_progress=True, engine="local", abort_on_fail=False,
                        junit=None)  # fmt: skip

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

    scale = verbs.add_parser(
        "scale",
        parents=[parent],
        help="100-byte max rate with 1, 2, 3 workers on an engine, exact totals (a benchmark)",
    )
    scale.add_argument("--engine", choices=ENGINES, default="swarm", help="default: swarm")
    scale.add_argument("--quick", action="store_true", help="200,000 messages per case")
    scale.add_argument("--messages", type=_positive_int, help="messages per case")
    scale.set_defaults(func=cmd_scale)

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


def _suite_options(args: argparse.Namespace) -> SuiteOptions:
    from kafkaval.tags import parse_tags
    from loadgen.options import SuiteOptions

    overrides, exprs = parse_cli(args.threshold)
    return SuiteOptions(
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
        thresholds=overrides,
        threshold_exprs=exprs,
        workload_files=args.workloads,
        abort_on_fail=args.abort_on_fail,
        tags=parse_tags(args.tag),
        producer_props=parse_props(args.producer_prop, "--producer-prop"),
        progress=False if args.no_progress else None,
        engine=args.engine,
    )


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from kafkaval.junit import run_with_junit
    from loadgen.suite import run_suite

    opts = _suite_options(args)
    record = run_with_junit(
        args.junit, "performance", lambda: run_suite(settings, opts), settings.secret_values()
    )
    return 0 if record["passed"] else 1


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    import os
    import threading

    from kafkaval.signals import stop_on_signals
    from loadgen.engine_worker import contract_from, require_one_load_profile, run_worker
    from loadgen.options import build_workload

    spec = require_one_load_profile(args.profiles)
    contract = contract_from(os.environ, args.run_id, args.worker_index, args.workers)
    args.workers = contract.workers
    opts = _suite_options(args)
    opts.validate()
    wl = build_workload(spec, opts, settings)
    running = threading.Event()
    running.set()
    with stop_on_signals(running.clear):
        s = run_worker(settings, spec, wl, contract, opts.producer_props, running)
    print(
        f"worker {contract.index}/{contract.workers} of {contract.run_id}: sent {s['sent']}, "
        f"acked {s['acked']}, failed {s['failed']}"
    )
    return 0


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from loadgen.compare import run_compare

    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--sizes needs comma-separated byte counts, not {args.sizes!r}") from None
    run_compare(settings, sizes, quick=args.quick, messages=args.messages, workers=args.workers)
    return 0


def cmd_scale(args: argparse.Namespace, settings: Settings) -> int:
    from loadgen.bench_scale import run_scale

    run_scale(settings, args.engine, quick=args.quick, messages=args.messages)
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
