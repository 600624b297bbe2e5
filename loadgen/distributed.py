"""The driver of a distributed run: workers on an engine, one merged result.

``perf run --engine swarm --workers N`` comes here for each load profile
(loadgen.repetition's hook, in place of the local worker processes): the engine
(loadgen.swarm_engine) starts N ``kafkaval perf worker`` tasks, the run's
control topic (loadgen.control) releases them together and brings back
their summaries, and ``loadgen.worker_merge`` turns those into the same result
fields as a local run, so thresholds, the run record and the reports are
unchanged. Counts are exact sums; latency percentiles come from the merged
histograms (loadgen.mergeable_hist, within its stated bound); end-to-end
latency and the consumed count come from this process's own consumer, as
in a local run. A failing worker fails the run with its index, host and
reason; the service is removed (and checked) whatever happened.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kafkaval import kafka_admin
from kafkaval.config import Settings
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.pacing import Phase
from kafkaval.records import new_run_id
from kafkaval.targets import register_target
from loadgen import profiles as prof
from loadgen.control import ControlChannel, control_topic
from loadgen.endpoint import JOB, instance_name
from loadgen.mergeable_hist import ERROR_BOUND
from loadgen.worker_merge import merge_summaries
from loadgen.workers import split_phases
from loadgen.workload import Workload

ENGINES = ("local", "swarm", "external")
READY_TIMEOUT = 600.0  # the engine may need minutes to start N containers on a busy cluster
START_LEAD = 1.0  # seconds between the go message and the start instant
STOP_GRACE = 30.0  # after a stop, how long to wait for the workers' partial results
# A task that ended without a result: how long its result may still be in flight.
RESULT_GRACE = 15.0
# Task states after which a task never runs again (Docker's swarm task states).
ENDED = {"complete", "failed", "shutdown", "rejected", "orphaned", "remove"}


class Engine(Protocol):
    name: str

    def preflight(self) -> None: ...
    def submit(self, run_id: str, workers: int, args: list[str], env: dict[str, str]) -> None: ...
    def tasks(self) -> dict[int, dict[str, Any]]: ...
    def remove(self) -> None: ...


class ExternalEngine:
    """Workers someone else starts: a Kubernetes Indexed Job, a stack file, a shell loop.

    The driver only announces the run (``start``, default: one line on
    stderr naming the run id and the workers' arguments, never the settings,
    which may hold credentials) and then waits on the control topic as for
    any engine. It sees no tasks: a worker that dies without a word is found
    by the deadline, not at once. It started nothing, so it removes nothing.
    """

    name = "external"

    def __init__(
        self, start: Callable[[str, int, list[str], dict[str, str]], None] | None = None
    ) -> None:
        self.start = start

    def preflight(self) -> None:
        pass

    def submit(self, run_id: str, workers: int, args: list[str], env: dict[str, str]) -> None:
        if self.start is not None:
            self.start(run_id, workers, args, env)
            return
        print(
            f"start {workers} workers (deploy/ has a Kubernetes Job and a Swarm stack): "
            f"KAFKAVAL_RUN_ID={run_id} KAFKAVAL_WORKERS={workers} kafkaval {' '.join(args)}, "
            "each with KAFKAVAL_WORKER_INDEX=1..N or JOB_COMPLETION_INDEX=0..N-1",
            file=sys.stderr,
            flush=True,
        )

    def tasks(self) -> dict[int, dict[str, Any]]:
        return {}

    def remove(self) -> None:
        pass


def make_engine(
    name: str,
    settings: Settings,
    name_prefix: str,
    start: Callable[[str, int, list[str], dict[str, str]], None] | None = None,
) -> Engine:
    """Raises UsageError for an engine this driver does not run."""
    if name == "external":
        return ExternalEngine(start)
    if name == "swarm":
        from loadgen.swarm_engine import SwarmEngine

        return SwarmEngine(
            settings.worker_image,
            settings.worker_network or None,
            name_prefix,
            settings.metrics_port,
        )
    raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, not {name!r}")


def check_workers(wl: Workload, workers: int) -> None:
    """Raises UsageError: more workers than messages in a phase (a worker with nothing to do)."""
    smallest = min(p.count for p in wl.phases)
    if workers > smallest:
        raise UsageError(
            f"--workers {workers} is more than the {smallest} messages of a phase of "
            f"{wl.name}: every worker needs a share; use fewer workers or more messages"
        )


def worker_args(spec: prof.ProfileSpec, opts: Any, settings: Settings) -> list[str]:
    """``kafkaval`` arguments that make each worker build the driver's workload."""
    args = ["perf", "worker", "--profile", spec.name, "--workers", str(opts.workers)]
    prefix = settings.topic_prefix if opts.topic_prefix is None else opts.topic_prefix
    args += ["--topic-prefix", prefix]
    if opts.quick:
        args.append("--quick")
    for flag, value in (
        ("--rate", opts.rate),
        ("--messages", opts.messages),
        ("--duration", opts.duration),
        ("--record-size", opts.record_size),
        ("--replication-factor", opts.replication_factor),
        # Unset ones the worker resolves from the same profile, as the driver did.
        ("--key-space", opts.key_space),
        ("--payload", opts.payload),
        ("--partitions", opts.partitions),
    ):
        if value is not None:
            args += [flag, str(value)]
    for k, v in opts.producer_props.items():
        args += ["--producer-prop", f"{k}={v}"]
    return args


def worker_env(settings: Settings, run_id: str, workers: int) -> dict[str, str]:
    """The contract's variables and the settings a worker needs to reach the same Kafka."""
    env = {
        "KAFKAVAL_RUN_ID": run_id,
        "KAFKAVAL_WORKERS": str(workers),
        "KAFKAVAL_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "KAFKAVAL_METRICS_HOST": settings.metrics_host,
        "KAFKAVAL_METRICS_PORT": str(settings.metrics_port),
        "KAFKAVAL_PROMETHEUS_URL": settings.prometheus_url,
        "KAFKAVAL_SCRAPE_INTERVAL": str(settings.scrape_interval),
    }
    for field in ("kafka", "producer"):
        props = getattr(settings, field)
        if props:
            env[f"KAFKAVAL_{field.upper()}"] = ",".join(f"{k}={v}" for k, v in props.items())
    return env


def run_engine_workers(
    settings: Settings,
    spec: prof.ProfileSpec,
    wl: Workload,
    opts: Any,
    running: threading.Event,
    progress: Any,
    label: str,
    consumer: Any,
    engine: Engine | None = None,
) -> dict[str, Any]:
    """One repetition of a load profile by ``opts.workers`` workers on ``opts.engine``.

    Raises:
        UsageError: too many workers for the workload.
        KafkavalError: the engine is unusable, a worker failed, or the run timed out.
    """
    n = opts.workers
    check_workers(wl, n)
    engine = engine or make_engine(opts.engine, settings, opts.engine_prefix, opts.engine_start)
    engine.preflight()
    run_id = new_run_id()
    topic = control_topic(settings, run_id)
    kafka_admin.create_topics(settings, [topic], 1, wl.replication_factor)
    channel = ControlChannel(settings, topic, "driver")
    shares = split_phases(wl.phases, n)
    scrape: dict[int, Path] = {}
    try:
        engine.submit(run_id, n, worker_args(spec, opts, settings), worker_env(settings, run_id, n))
        summaries = _drive(
            settings, scrape, engine, channel, shares, wl, running, progress, label, consumer, n
        )
    finally:
        progress.done()
        try:
            engine.remove()
        finally:
            for path in scrape.values():
                path.unlink(missing_ok=True)
            channel.close()
            if not opts.keep_topics:
                kafka_admin.delete_topics(settings, [topic])
    res = merge_summaries(spec, wl.phases, summaries, consumer)
    res["workers"] = n
    res["engine"] = {
        "name": engine.name,
        "run_id": run_id,
        "control_topic": topic,
        "histogram_error_bound": ERROR_BOUND,
    }
    return res


def _drive(
    settings: Settings,
    scrape: dict[int, Path],
    engine: Engine,
    channel: ControlChannel,
    shares: list[tuple[Phase, ...]],
    wl: Workload,
    running: threading.Event,
    progress: Any,
    label: str,
    consumer: Any,
    n: int,
) -> list[dict[str, Any]]:
    """Ready barrier, go, collect every result; raises naming the first failed worker.

    Workers on the host network are registered as scrape targets (``scrape``)
    under the names local workers have (job kafkaval-loadgen, instance
    loadgen-<i>), so the local stack's Prometheus scrapes them and the
    dashboards' sums over instances hold as for ``--workers N``.
    """
    ready: dict[int, str] = {}
    summaries: dict[int, dict[str, Any]] = {}
    ended_without_result: dict[int, float] = {}
    started: float | None = None
    planned = sum(p.duration or 0 for p in wl.phases)
    deadline = time.monotonic() + READY_TIMEOUT
    stopping = False
    while len(summaries) < n:
        now = time.monotonic()
        if now > deadline:
            what = "ready" if started is None else "done"
            missing = sorted(set(range(1, n + 1)) - set(ready if started is None else summaries))
            raise KafkavalError(
                f"workers {missing} not {what} in time on {engine.name}; see their logs"
            )
        if not running.is_set() and not stopping:
            stopping = True
            channel.send("stop", {})
            if started is None:
                raise KafkavalError("stopped before the workers started")
            deadline = min(deadline, now + STOP_GRACE)
        for kind, sender, body in channel.poll(0.5):
            idx = _index(sender, n)
            if idx is None:
                continue
            if kind == "error":
                raise KafkavalError(
                    f"worker {idx} ({body.get('host', '?')}) failed: {body.get('error')}"
                )
            if kind == "ready":
                if idx in ready:
                    raise KafkavalError(
                        f"two workers claim index {idx} ({ready[idx]}, {body.get('host')}): "
                        "each needs its own KAFKAVAL_WORKER_INDEX"
                    )
                want = [[p.count, p.rate] for p in shares[idx - 1]]
                if body.get("phases") != want:
                    raise KafkavalError(
                        f"worker {idx} ({body.get('host')}) built another workload "
                        f"({body.get('phases')} instead of {want}): same image and flags needed"
                    )
                ready[idx] = str(body.get("host"))
            elif kind == "result":
                summaries[idx] = body
        tasks = engine.tasks()
        for slot, t in tasks.items():
            if t["metrics"] and slot not in scrape:
                scrape[slot] = register_target(settings, JOB, instance_name(slot), t["metrics"])
            if slot in summaries or t["state"] not in ENDED:
                continue
            first = ended_without_result.setdefault(slot, now)
            if t["state"] != "complete" or now - first > RESULT_GRACE:
                why = t["error"] or t["state"]
                code = f", exit code {t['exit_code']}" if t["exit_code"] is not None else ""
                said = f"; it said: {t['log']}" if t.get("log") else ""
                raise KafkavalError(
                    f"worker {slot} (task on node {t['node']}) ended without a result: "
                    f"{why}{code}{said}"
                )
        if started is None and len(ready) == n:
            channel.send("go", {"start_at": time.time() + START_LEAD})
            started = time.monotonic()
            deadline = started + planned * 3 + 120 + wl.count / 1000
        if started is None:
            running_tasks = sum(1 for t in tasks.values() if t["state"] == "running")
            progress.line(f"{label}: {running_tasks}/{n} tasks running, {len(ready)}/{n} ready")
        else:
            elapsed = time.monotonic() - started
            consumed = consumer.consumed if consumer is not None else 0
            progress.line(
                f"{label}: {elapsed:5.1f}s/{planned:.0f}s {n} workers on {engine.name}, "
                f"{len(summaries)}/{n} done, consumed {consumed}/{wl.count}"
            )
    # Each worker stays up until Prometheus has scraped its final values
    # (loadgen.endpoint); removing the service now would cut that short.
    linger_end = time.monotonic() + 2.5 * settings.scrape_interval + 20
    while time.monotonic() < linger_end:
        if all(t["state"] in ENDED for t in engine.tasks().values()):
            break
        time.sleep(0.5)
    return [summaries[i] for i in range(1, n + 1)]


def _index(sender: str, n: int) -> int | None:
    try:
        idx = int(sender)
    except ValueError:
        return None  # the driver's own messages
    return idx if 1 <= idx <= n else None
