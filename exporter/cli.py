"""``kafkaval exporter``: serve container (or local-process) stats for Prometheus.

``kafkaval exporter bench`` measures scrape time with 20 containers.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from kafkaval.config import Settings
from kafkaval.errors import UsageError
from kafkaval.targets import scrape_target

DEFAULT_PORT = 19417
# Set in the exporter process a --consumer-lag supervisor starts (see _supervise).
CHILD_ENV = "KAFKAVAL_EXPORTER_CHILD"


def register(sub: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "exporter",
        parents=[parent],
        help="container-stats exporter (Docker or local processes) for Prometheus",
        description="Serve cAdvisor-compatible container_* metrics from Docker stats "
        "(or from the local stack's processes with --local-stack).",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP port (default %(default)s)")
    p.add_argument(
        "--address", default="127.0.0.1", help="listen address (0.0.0.0 inside a container)"
    )
    p.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY[=VALUE]",
        help="only containers with this label (repeatable; all must match)",
    )
    p.add_argument("--compose-project", help="only containers of this compose project")
    p.add_argument(
        "--local-stack",
        action="store_true",
        help="report the local stack's processes (pid files under state_dir) instead of Docker",
    )
    p.add_argument(
        "--state-dir",
        dest="settings_state_dir",
        help="the local stack's state dir (with --local-stack; default: state_dir)",
    )
    p.add_argument(
        "--interval", type=float, default=2.0, help="seconds between samples (default 2)"
    )
    p.add_argument(
        "--consumer-lag",
        action="store_true",
        help="also serve consumer-group lag (kafka_consumergroup_lag) of the groups in use on "
        "bootstrap_servers",
    )
    p.set_defaults(func=run)
    actions = p.add_subparsers(dest="exporter_action", metavar="ACTION")
    b = actions.add_parser(
        "bench",
        parents=[parent],
        help="start N containers, time scrapes, write results/bench-exporter.json",
    )
    b.add_argument("--containers", type=int, default=20)
    b.add_argument("--scrapes", type=int, default=50)
    b.add_argument("--image", default="kafkaval/base:bookworm", help="image of the idle containers")
    b.set_defaults(func=run_bench)


def _validate(args: argparse.Namespace) -> None:
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a TCP port (1-65535)")
    if args.interval <= 0:
        raise UsageError(f"--interval must be > 0 seconds, not {args.interval}")
    if args.local_stack and (args.label or args.compose_project):
        raise UsageError("--local-stack reports processes: drop --label/--compose-project")
    for label in args.label:
        if not label.split("=", 1)[0].strip():
            raise UsageError(f"bad --label {label!r}: write key or key=value")


def _supervise() -> int:
    """Run this same exporter as a child, and start it again if a signal kills it.

    With --consumer-lag the process holds a librdkafka AdminClient, and
    librdkafka can abort the whole process on an internal assertion while
    brokers restart (rd_kafka_enq_once_del_source_return, seen in the delivery
    scenarios). The container stats must outlive that: the child is restarted,
    its scrape gap is the only trace. SIGTERM/SIGINT are passed on and end both.
    """
    stop = threading.Event()
    child: list[subprocess.Popen[bytes]] = []

    def on_signal(sig: int, _frame: object) -> None:
        stop.set()
        if child and child[-1].poll() is None:
            child[-1].send_signal(sig)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    from stack.processes import parent_death_hook

    while not stop.is_set():
        proc = subprocess.Popen(
            [sys.executable, "-m", "kafkaval", *sys.argv[1:]],
            env={**os.environ, CHILD_ENV: "1"},
            preexec_fn=parent_death_hook(),
        )
        child.append(proc)
        rc = proc.wait()
        child.pop()
        if stop.is_set() or rc >= 0:
            return max(rc, 0)
        print(
            f"kafkaval exporter: the exporter died of signal {-rc}; starting it again",
            file=sys.stderr,
            flush=True,
        )
        stop.wait(1.0)
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until SIGTERM/SIGINT."""
    _validate(args)
    if args.consumer_lag and os.environ.get(CHILD_ENV) != "1":
        return _supervise()
    logging.basicConfig(level=logging.INFO, format="kafkaval exporter: %(message)s")
    from exporter.server import serve, wait_forever

    source: object
    if args.local_stack:
        from exporter.process_source import ProcessSource

        source = ProcessSource(settings.path("state_dir") / "pids")
    else:
        from exporter.docker_source import DockerSource, engine_problem

        problem = engine_problem()
        if problem:
            # Not fatal: the engine may come (back) later; up stays 0 until then.
            print(f"kafkaval exporter: {problem}", file=sys.stderr)
        source = DockerSource(labels=args.label, compose_project=args.compose_project)
    lag_source = None
    if args.consumer_lag:
        from exporter.lag import ConsumerLagSource

        lag_source = ConsumerLagSource(settings.client_config())
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with serve(source, args.address, args.port, args.interval, lag_source) as running:  # type: ignore[arg-type]
        host = "127.0.0.1" if args.address in ("0.0.0.0", "") else args.address
        instance = "local" if args.local_stack else "docker"
        with scrape_target(settings, "exporter", instance, f"{host}:{running.port}"):
            print(
                f"kafkaval exporter: serving http://{host}:{running.port}/metrics "
                f"({running.sampler.source.kind})",
                flush=True,
            )
            wait_forever(stop)
    return 0


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    if not 1 <= args.containers <= 200:
        raise UsageError(f"--containers must be 1..200, not {args.containers}")
    if not 5 <= args.scrapes <= 10000:
        raise UsageError(f"--scrapes must be 5..10000, not {args.scrapes}")
    from exporter.bench import run_benchmark

    result = run_benchmark(
        containers=args.containers,
        scrapes=args.scrapes,
        image=args.image,
        out=Path(settings.results_dir) / "bench-exporter.json",
    )
    print(
        f"exporter bench: {result['containers']} containers, scrape p50 "
        f"{result['scrape_p50_seconds'] * 1000:.1f} ms, p95 "
        f"{result['scrape_p95_seconds'] * 1000:.1f} ms, exporter CPU "
        f"{result['exporter_cpu_percent']:.1f} %"
    )
    return 0
