"""``kafkaval perf worker``: one worker of a distributed run, as an engine starts it.

The contract any engine can meet (Docker Swarm service, Kubernetes Indexed
Job, or a shell loop): the run id, this worker's index (1..N) and the worker
count come from flags or the environment,

- ``KAFKAVAL_RUN_ID``: the driver's run id (names the control topic);
- ``KAFKAVAL_WORKER_INDEX``: 1..N (Swarm: ``{{.Task.Slot}}``), or
  ``JOB_COMPLETION_INDEX``: 0..N-1 (a Kubernetes Indexed Job);
- ``KAFKAVAL_WORKERS``: N;
- ``KAFKAVAL_WORKER_METRICS_PORT``: a fixed /metrics port (a pod or an overlay
  task has its own address); unset, ``metrics_port + index`` (host network),

and the workload from the same flags as ``perf run`` (one profile). The
worker builds the same Workload as the driver, takes its share of every
phase (loadgen.workers.split_phases) and of the key space, warms up, says
``ready`` on the run's control topic (loadgen.control), starts at the
driver's ``go`` instant, serves /metrics with ``run_id``/``worker`` labels,
and publishes its summary (exact counts, mergeable latency histograms, its
CPU and memory) as ``result``; on failure one ``error`` line.
"""

from __future__ import annotations

import dataclasses
import resource
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from prometheus_client.registry import Collector

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.pacing import Phase
from loadgen import profiles as prof
from loadgen import results
from loadgen.control import ControlChannel, control_topic
from loadgen.endpoint import metrics_endpoint
from loadgen.mergeable_hist import MergeableHistogram, pack
from loadgen.metrics import LoadgenCollector
from loadgen.producer import PacedProducer
from loadgen.recorder import UNSET
from loadgen.workers import worker_share
from loadgen.workload import Workload, producer_config
from stack.processes import rss_bytes

# How long a worker waits for the driver's start: the engine may start the
# N containers minutes apart on a busy cluster.
GO_TIMEOUT = 600.0
# A go instant further ahead than this is a clock problem, not a plan.
MAX_START_AHEAD = 30.0
# A worker with at most this many acked messages also sends its exact service
# latencies, so anyone can recheck the merged percentiles (a QUICK run's size).
EXACT_SAMPLES_LIMIT = 20_000


@dataclasses.dataclass(frozen=True)
class WorkerContract:
    """Who this worker is in which run."""

    run_id: str
    index: int  # 1..workers
    workers: int
    metrics_port: int | None = None  # None: settings.metrics_port + index


def contract_from(
    environ: Mapping[str, str],
    run_id: str | None = None,
    index: int | None = None,
    workers: int | None = None,
) -> WorkerContract:
    """The contract from flags (given here) over the environment.

    Raises:
        UsageError: a value missing or out of range, named with its variable.
    """

    def number(name: str, text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise UsageError(f"{name} must be a whole number, not {text!r}") from None

    run_id = run_id or environ.get("KAFKAVAL_RUN_ID", "")
    if not run_id:
        raise UsageError("no run id: give --run-id or set KAFKAVAL_RUN_ID (the driver's)")
    if index is None:
        if environ.get("KAFKAVAL_WORKER_INDEX"):
            index = number("KAFKAVAL_WORKER_INDEX", environ["KAFKAVAL_WORKER_INDEX"])
        elif environ.get("JOB_COMPLETION_INDEX"):
            index = number("JOB_COMPLETION_INDEX", environ["JOB_COMPLETION_INDEX"]) + 1
        else:
            raise UsageError(
                "no worker index: give --worker-index or set KAFKAVAL_WORKER_INDEX (1..N) "
                "or JOB_COMPLETION_INDEX (0..N-1)"
            )
    if workers is None:
        if not environ.get("KAFKAVAL_WORKERS"):
            raise UsageError("no worker count: give --workers or set KAFKAVAL_WORKERS")
        workers = number("KAFKAVAL_WORKERS", environ["KAFKAVAL_WORKERS"])
    if workers < 1 or not 1 <= index <= workers:
        raise UsageError(f"worker index {index} is not in 1..{workers}")
    port = environ.get("KAFKAVAL_WORKER_METRICS_PORT")
    return WorkerContract(
        run_id,
        index,
        workers,
        number("KAFKAVAL_WORKER_METRICS_PORT", port) if port else None,
    )


class LabelledCollector:
    """Another collector's metrics with constant labels added (run_id, worker).

    A distributed run's workers are told apart by these labels wherever
    Prometheus found them (the engine's service discovery names them its own
    way); sums over workers ignore them.
    """

    def __init__(self, inner: Collector, labels: dict[str, str]) -> None:
        self.inner = inner
        self.labels = labels

    def collect(self) -> Iterator[Any]:
        for family in self.inner.collect():
            family.samples = [
                s._replace(labels={**s.labels, **self.labels}) for s in family.samples
            ]
            yield family


def run_worker(
    settings: Settings,
    spec: prof.ProfileSpec,
    wl: Workload,
    contract: WorkerContract,
    producer_props: dict[str, str],
    running: threading.Event,
    channel: ControlChannel | None = None,
) -> dict[str, Any]:
    """Run this worker's share between the driver's ``go`` and the end; returns its summary.

    The summary is also published as ``result`` on the control topic; a
    failure is published as ``error`` (best effort) and raised.

    Raises:
        KafkavalError: no start within GO_TIMEOUT, the driver said stop before
            the start, or the producer failed.
    """
    channel = channel or ControlChannel(
        settings, control_topic(settings, contract.run_id), str(contract.index)
    )
    mine, phases = worker_share(wl, contract.index, contract.workers)
    collector = LoadgenCollector()
    labelled = LabelledCollector(
        collector, {"run_id": contract.run_id, "worker": str(contract.index)}
    )
    try:
        with metrics_endpoint(settings, labelled, contract.index, port=contract.metrics_port):
            producer = PacedProducer(
                mine,
                producer_config(settings, producer_props),
                worker=contract.index,
                phases=phases,
                running=running,
                on_phase=collector.follow_phases(wl.name),
            )
            collector.attach_producer(producer.profile, producer.recorder)
            producer.warm_up()
            channel.send(
                "ready",
                {
                    "host": socket.gethostname(),
                    "phases": [[p.count, p.rate] for p in phases],
                },
            )
            _wait_for_go(channel, running)
            stop_watch = _watch_for_stop(channel, running)
            wall_off_us = time.time_ns() // 1000 - time.monotonic_ns() // 1000
            rss: list[tuple[float, int]] = []
            t0 = time.monotonic()
            rss_thread = threading.Thread(
                target=_sample_rss, args=(rss, t0, stop_watch), daemon=True, name="rss"
            )
            rss_thread.start()
            try:
                producer.run()
            finally:
                stop_watch.set()
                rss_thread.join(2)
                collector.set_target_rate(wl.name, 0.0)
                collector.detach(producer.recorder)
            summary = worker_summary(spec, producer, phases, contract, wall_off_us, rss)
            channel.send("result", summary)
            return summary
    except KafkavalError as e:
        try:
            channel.send("error", {"error": str(e), "host": socket.gethostname()})
        except KafkavalError:
            pass  # the driver then sees the task fail and reports that instead
        raise
    finally:
        channel.close()


def _wait_for_go(channel: ControlChannel, running: threading.Event) -> None:
    """Block until the driver's ``go``, then until its start instant.

    Raises:
        KafkavalError: no go within GO_TIMEOUT, a stop, or a signal first.
    """
    deadline = time.monotonic() + GO_TIMEOUT
    while running.is_set():
        if time.monotonic() > deadline:
            raise KafkavalError(f"no start from the driver within {GO_TIMEOUT:.0f} s")
        for kind, _sender, body in channel.poll(1.0):
            if kind == "stop":
                raise KafkavalError("the driver stopped the run before its start")
            if kind == "go":
                ahead = float(body["start_at"]) - time.time()
                if ahead > MAX_START_AHEAD:
                    raise KafkavalError(
                        f"the start instant is {ahead:.0f} s ahead of this machine's clock: "
                        "synchronise the clocks (NTP)"
                    )
                if ahead > 0:
                    time.sleep(ahead)
                return
    raise KafkavalError("stopped by a signal before the start")


def _watch_for_stop(channel: ControlChannel, running: threading.Event) -> threading.Event:
    """A thread that clears ``running`` on the driver's ``stop``; set the event to end it."""
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if any(kind == "stop" for kind, _s, _b in channel.poll(0.5)):
                running.clear()
                return

    threading.Thread(target=watch, daemon=True, name="stop-watch").start()
    return done


def _sample_rss(out: list[tuple[float, int]], t0: float, done: threading.Event) -> None:
    while not done.wait(0.5):
        out.append((time.monotonic() - t0, rss_bytes() or 0))


def worker_summary(
    spec: prof.ProfileSpec,
    producer: PacedProducer,
    phases: tuple[Phase, ...],
    contract: WorkerContract,
    wall_off_us: int,
    rss: list[tuple[float, int]],
) -> dict[str, Any]:
    """What the driver merges: exact counts, histograms, wall-clock phase bounds, resources."""
    intended, sent, acked = producer.recorder.arrays()
    ok_s, ok_a = sent != UNSET, acked != UNSET
    hists = {
        "service_latency_seconds": (acked - sent)[ok_a],
        "send_delay_seconds": (sent - intended)[ok_s],
        "response_latency_seconds": (acked - intended)[ok_a],
    }
    own = results.load_result(
        spec,
        phases,
        intended,
        sent,
        acked,
        producer.recorder.failed_count,
        np.zeros(0, dtype=np.int64),
        0,
        0,
        None,
        rss,
    )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out: dict[str, Any] = {
        "run_id": contract.run_id,
        "worker": contract.index,
        "workers": contract.workers,
        "host": socket.gethostname(),
        "sent": int(ok_s.sum()),
        "acked": int(ok_a.sum()),
        "failed": int(producer.recorder.failed_count),
        "errors": dict(producer.errors),
        "phases": [
            _phase_bounds(intended, sent, acked, lo, hi, wall_off_us)
            for lo, hi in results.phase_bounds(phases)
        ],  # fmt: skip
        "histograms": {k: MergeableHistogram.of(v).to_json() for k, v in hists.items()},
        # Which sequence numbers were acked (0/1; compresses to almost nothing), so
        # the driver's consumer compares ids, not only counts.
        "acked_ids": pack(ok_a.astype(np.int64)),
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_rss_bytes": usage.ru_maxrss * 1024,  # Linux: KiB
        "own": {
            k: own.get(k)
            for k in ("achieved_rate", "recovery_seconds", "drift", "produce_seconds")
            if k in own
        },
        "own_service_p99_seconds": own["service_latency_seconds"]["p99"],
    }
    if out["acked"] <= EXACT_SAMPLES_LIMIT:
        out["service_samples_us"] = pack(hists["service_latency_seconds"])
    return out


def _phase_bounds(
    intended: np.ndarray, sent: np.ndarray, acked: np.ndarray, lo: int, hi: int, off: int
) -> dict[str, Any]:
    """One phase's counts and wall-clock µs bounds (None when nothing happened)."""
    s, a, i = sent[lo:hi], acked[lo:hi], intended[lo:hi]
    ok_s, ok_a = s != UNSET, a != UNSET

    def wall(arr: np.ndarray, pick: Any) -> int | None:
        return int(pick(arr)) + off if arr.size else None

    return {
        "count": hi - lo,
        "sent": int(ok_s.sum()),
        "acked": int(ok_a.sum()),
        "first_intended_us": wall(i[ok_s], np.min),
        "first_sent_us": wall(s[ok_s], np.min),
        "last_sent_us": wall(s[ok_s], np.max),
        "last_acked_us": wall(a[ok_a], np.max),
    }


def require_one_load_profile(names: list[str] | None) -> prof.ProfileSpec:
    """The one load profile a worker runs.

    Raises:
        UsageError: none, several, or a profile that is not load.
    """
    specs = prof.resolve(names) if names else []
    if len(specs) != 1 or specs[0].kind != "load":
        loads = ", ".join(n for n, s in prof.PROFILES.items() if s.kind == "load")
        raise UsageError(f"a worker runs exactly one load profile: give --profile one of {loads}")
    return specs[0]
