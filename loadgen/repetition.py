"""One repetition of a load profile: its topics, the run consumer, then the producers.

``run_load`` creates the profile's topics and starts the one consumer in this
process, then sends with one of three producers: a PacedProducer in this
process, ``--workers N`` local processes (loadgen.workers), or workers on an
engine (loadgen.distributed). The first two end in one place (``_result``):
the consumer's drain, ``results.load_result`` and the client-error counts.
The topics are deleted afterwards unless ``--keep-topics``.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from array import array
from typing import Any

import numpy as np

from kafkaval import kafka_admin
from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.records import new_run_id
from loadgen import profiles as prof
from loadgen import results
from loadgen.console import Progress, RssTicker
from loadgen.consumer import RunConsumer
from loadgen.early_abort import AbortWatch
from loadgen.metrics import LoadgenCollector
from loadgen.options import SuiteOptions
from loadgen.producer import PacedProducer
from loadgen.recorder import UNSET
from loadgen.workers import WorkerPool, merge, split_phases, sum_errors
from loadgen.workload import Workload, consumer_config, producer_config
from stack.processes import rss_bytes


def run_load(
    settings: Settings,
    spec: prof.ProfileSpec,
    wl: Workload,
    collector: LoadgenCollector,
    opts: SuiteOptions,
    running: threading.Event,
    progress: Progress,
    label: str,
    watch: AbortWatch | None = None,
) -> dict[str, Any]:
    """One repetition of a load profile; returns its result (without checks).

    ``watch`` sees the live counts about once a second and may stop the run.

    Raises:
        KafkavalError: the topics, the producers or the workers failed.
    """
    kafka_admin.create_topics(settings, wl.topics, wl.partitions, wl.replication_factor)
    consumer = None
    try:
        if opts.workers > 1 or opts.engine != "local":
            shares = split_phases(wl.phases, opts.workers)
            expected = {i + 1: sum(p.count for p in sh) for i, sh in enumerate(shares)}
        else:
            expected = {0: wl.count}
        if wl.consume:
            consumer = RunConsumer(
                spec.name,
                wl.topics,
                wl.partitions,
                expected,
                consumer_config(
                    settings, f"kafkaval-perf-{spec.name}-{new_run_id()}", wl.consumer_props
                ),
            )
            collector.attach_consumer(consumer)
            consumer.start()
        if opts.engine != "local":
            from loadgen.distributed import run_engine_workers

            return run_engine_workers(settings, spec, wl, opts, running, progress, label, consumer)
        rep = _Repetition(settings, spec, wl, opts, running, progress, label, consumer, watch)
        return _run_pool(rep) if opts.workers > 1 else _run_here(rep, collector)
    finally:
        if consumer is not None:
            collector.detach(consumer)
            consumer.close()
        if not opts.keep_topics:
            try:
                kafka_admin.delete_topics(settings, wl.topics)
            except KafkavalError as e:  # the run's result stands; say what is left behind
                print(f"warning: {e}", file=sys.stderr)


@dataclasses.dataclass(frozen=True)
class _Repetition:
    """What both local ways of sending share: the run, its consumer, its progress line."""

    settings: Settings
    spec: prof.ProfileSpec
    wl: Workload
    opts: SuiteOptions
    running: threading.Event
    progress: Progress
    label: str
    consumer: RunConsumer | None
    watch: AbortWatch | None


def _run_here(rep: _Repetition, collector: LoadgenCollector) -> dict[str, Any]:
    """The repetition with one PacedProducer in this process."""
    wl, consumer, watch = rep.wl, rep.consumer, rep.watch
    producer = PacedProducer(
        wl,
        producer_config(rep.settings, rep.opts.producer_props, wl.producer_props),
        running=rep.running,
        on_phase=collector.follow_phases(rep.spec.name),
    )
    collector.attach_producer(producer.profile, producer.recorder)
    total = wl.count
    planned = sum(p.duration or 0 for p in wl.phases)

    def tick(elapsed: float) -> None:
        rec = producer.recorder
        rec.scan()
        tail = rec.response_done[-2000:]
        p99 = float(np.percentile(np.frombuffer(tail, dtype=np.int64), 99)) / 1e3 if tail else 0
        rate = rec.acked_count / elapsed if elapsed > 0 else 0
        eta = f"/{planned:.0f}s" if planned else ""
        consumed = consumer.consumed if consumer else 0
        if watch is not None:
            live = {
                "service": rec.service_done,
                "response": rec.response_done,
                "send_delay": rec.send_delay_done,
                "e2e": consumer.recorder.e2e_done if consumer else None,
            }
            watch.check(
                {
                    "failed": rec.failed_count,
                    "duplicates_consumed": consumer.recorder.duplicates if consumer else 0,
                },
                lambda name: seconds_so_far(live[name]),
                total,
            )
        rep.progress.line(
            f"{rep.label}: {elapsed:5.1f}s{eta} sent {rec.sent_count}/{total} "
            f"acked {rec.acked_count} failed {rec.failed_count} consumed {consumed} "
            f"~{rate:,.0f} msg/s p99 {p99:.1f} ms"
        )

    ticker = RssTicker(0.5, tick)
    ticker.start()
    try:
        producer.run()
    finally:
        collector.set_target_rate(rep.spec.name, 0.0)
        drain_s = None
        if consumer is not None and rep.running.is_set():
            drain_s = _drain_seconds(
                consumer, producer.recorder.acked_count, producer.last_ack_mono, wl
            )
        ticker.stop_event.set()
        ticker.join(2)
        rep.progress.done()
        collector.detach(producer.recorder)
    intended, sent, acked = producer.recorder.arrays()
    return _result(
        rep.spec,
        wl,
        consumer,
        (intended, sent, acked),
        producer.recorder.failed_count,
        drain_s,
        ticker.rss,
        {0: acked != UNSET},
        producer.errors,
    )


def _run_pool(rep: _Repetition) -> dict[str, Any]:
    """The repetition with ``--workers N`` producer processes (loadgen.workers)."""
    wl, consumer, watch = rep.wl, rep.consumer, rep.watch
    pool = WorkerPool(
        rep.settings,
        wl,
        rep.opts.workers,
        producer_config(rep.settings, rep.opts.producer_props, wl.producer_props),
        tags=rep.opts.tags,
    )
    planned = sum(p.duration or 0 for p in wl.phases)
    rss: list[tuple[float, int]] = []
    eta = f"/{planned:.0f}s" if planned else ""

    def tick(elapsed: float) -> None:
        # Memory of the producers (the workers) plus this process: the sustained
        # profile's drift figure. The workers' live figures are on their /metrics;
        # here the consumer (in this process) shows the progress.
        rss.append((elapsed, sum(rss_bytes(pid) or 0 for pid in [None, *pool.pids()])))
        consumed = consumer.consumed if consumer is not None else 0
        if watch is not None and consumer is not None:
            # The producers' figures are in the worker processes until they end.
            rec = consumer.recorder
            watch.check(
                {"duplicates_consumed": rec.duplicates},
                lambda name: seconds_so_far(rec.e2e_done if name == "e2e" else None),
                wl.count,
            )
        rep.progress.line(
            f"{rep.label}: {elapsed:5.1f}s{eta} {rep.opts.workers} workers, "
            f"consumed {consumed}/{wl.count} ~{consumed / elapsed if elapsed else 0:,.0f} msg/s"
        )

    try:
        out = pool.run(timeout=planned * 3 + 120 + wl.count / 1000, running=rep.running, tick=tick)
    finally:
        rep.progress.done()
    intended, sent, acked = merge(out, pool.shares, wl.phases)
    drain_s = None
    if consumer is not None:
        # Unlike one producer here, the workers' consumer drains even after a stop.
        n_acked = int((acked != UNSET).sum())
        drain_s = _drain_seconds(consumer, n_acked, max(r["last_ack"] for r in out), wl)
    res = _result(
        rep.spec,
        wl,
        consumer,
        (intended, sent, acked),
        sum(r["failed"] for r in out),
        drain_s,
        rss,
        {r["index"]: np.frombuffer(array("q", r["acked"]), dtype=np.int64) != UNSET for r in out},
        sum_errors(r["errors"] for r in out),
    )
    res["workers"] = rep.opts.workers
    return res


def _drain_seconds(
    consumer: RunConsumer, acked: int, last_ack_mono: float, wl: Workload
) -> float | None:
    """Wait for the consumer to have every acked message; the seconds from the last ack
    until it had them, or None when it never did."""
    if consumer.drain(acked, 30 + wl.count / 5000):
        return max(0.0, consumer.last_consume_mono - last_ack_mono)
    return None


def _result(
    spec: prof.ProfileSpec,
    wl: Workload,
    consumer: RunConsumer | None,
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray],
    failed: int,
    drain_s: float | None,
    rss: list[tuple[float, int]],
    acked_by_worker: dict[int, np.ndarray],
    client_errors: dict[str, int],
) -> dict[str, Any]:
    """The repetition's result from the producers' (intended, sent, acked) µs arrays and
    the consumer's figures; ``acked_by_worker`` marks the acked message ids per worker."""
    intended, sent, acked = arrays
    e2e = (
        np.frombuffer(consumer.recorder.e2e_done, dtype=np.int64)
        if consumer is not None
        else np.zeros(0, dtype=np.int64)
    )
    out = results.load_result(
        spec,
        wl.phases,
        intended,
        sent,
        acked,
        failed,
        e2e,
        consumer.consumed if consumer is not None else 0,
        consumer.recorder.duplicates if consumer is not None else 0,
        drain_s,
        rss,
    )
    if consumer is not None:
        out.update(consumer.id_mismatch(acked_by_worker))
    if client_errors:
        out["client_errors"] = dict(client_errors)
    return out


def seconds_so_far(values_us: Any) -> np.ndarray:
    """A copy (the recorder keeps appending) of µs latencies so far, in seconds."""
    if values_us is None:
        return np.zeros(0)
    return np.frombuffer(values_us[:], dtype=np.int64) / 1e6
