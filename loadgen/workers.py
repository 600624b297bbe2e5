"""``--workers N``: N producer processes sharing the target rate.

Python's GIL caps one process at what one core can send; each worker is a
separate process (``spawn``, so no threads or sockets are inherited) with its
own PacedProducer, its own LoadgenCollector and its own /metrics endpoint on
``metrics_port + i`` (instance ``loadgen-<i>``); Prometheus sums the
instances. The same split works across containers or hosts
(loadgen.engine_worker). Every phase's rate and count are divided evenly,
the key space into disjoint slices; worker ``i`` stamps its index into each
message so the one consumer in the parent tells the workers' sequences apart.
All workers start their schedules together after their warm-up, and send
their recorded arrays back to the parent for exact percentiles.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import queue
import threading
import time
from array import array
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.pacing import Phase
from loadgen.workload import Workload

READY_TIMEOUT = 60.0


def split_phases(phases: tuple[Phase, ...], workers: int) -> list[tuple[Phase, ...]]:
    """Each worker's share: rate / N and an even split of each phase's count."""
    shares = []
    for w in range(workers):
        mine = []
        for p in phases:
            count = p.count // workers + (1 if w < p.count % workers else 0)
            rate = None if p.rate is None else p.rate / workers
            mine.append(Phase(max(count, 0), rate))
        shares.append(tuple(mine))
    return shares


def split_keys(key_space: int, workers: int) -> list[tuple[int, int]]:
    """Each worker's slice of the keys 1..key_space: ``(first key, how many)``.

    Disjoint slices: no two workers write the same row, as N writers of one
    table's distinct rows would. A key space smaller than N gives some
    workers the same one key (a slice is never empty).
    """
    out = []
    for w in range(workers):
        size = key_space // workers + (1 if w < key_space % workers else 0)
        first = 1 + w * (key_space // workers) + min(w, key_space % workers)
        out.append((first, size) if size else (1 + w % key_space, 1))
    return out


def worker_share(wl: Workload, index: int, workers: int) -> tuple[Workload, tuple[Phase, ...]]:
    """Worker ``index`` (1..workers): its workload (its slice of the keys) and its phases."""
    first, size = split_keys(wl.key_space, workers)[index - 1]
    return (
        dataclasses.replace(wl, key_first=first, key_space=size),
        split_phases(wl.phases, workers)[index - 1],
    )


def _worker_main(
    settings: Settings,
    wl: Workload,
    index: int,
    phases: tuple[Phase, ...],
    props: dict[str, str],
    ready: Any,
    go: Any,
    results: Any,
    serve_metrics: bool,
    stop: Any = None,
    tags: dict[str, str] | None = None,
) -> None:
    # Imports here: the spawned interpreter starts from scratch.
    import contextlib

    from loadgen.endpoint import metrics_endpoint
    from loadgen.metrics import LoadgenCollector
    from loadgen.producer import PacedProducer

    try:
        collector = LoadgenCollector()
        endpoint = (
            metrics_endpoint(settings, collector, index, tags=tags)
            if serve_metrics
            else contextlib.nullcontext()
        )
        with endpoint:
            running = threading.Event()
            running.set()
            if stop is not None:
                # The parent's Ctrl-C/SIGTERM: stop pacing, report what was sent.
                def watch() -> None:
                    stop.wait()
                    running.clear()

                threading.Thread(target=watch, daemon=True, name="stop-watch").start()
            producer = PacedProducer(
                wl,
                props,
                running=running,
                worker=index,
                phases=tuple(p for p in phases if p.count > 0),
                on_phase=collector.follow_phases(wl.name),
            )
            collector.attach_producer(producer.profile, producer.recorder)
            producer.warm_up()
            ready.put(index)
            if not go.wait(READY_TIMEOUT):
                raise KafkavalError("the parent never started the run")
            producer.run()
            collector.set_target_rate(wl.name, 0.0)
            collector.detach(producer.recorder)
            rec = producer.recorder
            intended, sent, acked = rec.arrays()  # µs, as the parent merges them
            results.put(
                {
                    "index": index,
                    "intended": intended.tobytes(),
                    "sent": sent.tobytes(),
                    "acked": acked.tobytes(),
                    "failed": rec.failed_count,
                    "first_send": producer.started_mono,
                    "last_ack": producer.last_ack_mono,
                    "errors": producer.errors,
                }
            )
    except BaseException as e:  # reported to the parent; a child traceback helps nobody
        results.put({"index": index, "error": f"{type(e).__name__}: {e}"})
        ready.put(index)


class WorkerPool:
    """Start N workers for one workload, release them together, collect their arrays."""

    def __init__(
        self,
        settings: Settings,
        wl: Workload,
        workers: int,
        props: dict[str, str],
        serve_metrics: bool = True,
        tags: dict[str, str] | None = None,
    ) -> None:
        ctx = mp.get_context("spawn")
        self.shares = split_phases(wl.phases, workers)
        self.ready, self.results, self.go = ctx.Queue(), ctx.Queue(), ctx.Event()
        self.stop = ctx.Event()
        self.procs = [
            ctx.Process(
                target=_worker_main,
                args=(
                    settings,
                    worker_share(wl, i + 1, workers)[0],
                    i + 1,
                    self.shares[i],
                    props,
                    self.ready,
                    self.go,
                    self.results,
                    serve_metrics,
                    self.stop,
                    tags,
                ),
                name=f"loadgen-worker-{i + 1}",
                daemon=True,
            )
            for i in range(workers)
        ]

    def expected(self) -> dict[int, int]:
        return {i + 1: sum(p.count for p in s) for i, s in enumerate(self.shares)}

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.pid is not None and p.is_alive()]

    def run(
        self,
        timeout: float,
        running: threading.Event | None = None,
        tick: Callable[[float], None] = lambda _elapsed: None,
    ) -> list[dict[str, Any]]:
        """Start, wait for every warm-up, release, collect. Raises KafkavalError.

        Args:
            running: cleared by the parent's signal handler; the workers stop then.
            tick: called about once a second with the seconds since the release.
        """
        for p in self.procs:
            p.start()
        try:
            for _ in self.procs:
                self.ready.get(timeout=READY_TIMEOUT)
            self.go.set()
            t0 = time.monotonic()
            out: list[dict[str, Any]] = []
            deadline = time.monotonic() + timeout
            while len(out) < len(self.procs):
                if running is not None and not running.is_set():
                    self.stop.set()
                tick(time.monotonic() - t0)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise KafkavalError(f"workers did not finish within {timeout:.0f} s")
                try:
                    out.append(self.results.get(timeout=min(left, 1.0)))
                except queue.Empty:
                    if not any(p.is_alive() for p in self.procs) and self.results.empty():
                        raise KafkavalError("a worker process died without a result") from None
            errors = [r["error"] for r in out if "error" in r]
            if errors:
                raise KafkavalError(f"worker failed: {errors[0]}")
            return sorted(out, key=lambda r: r["index"])
        except queue.Empty:
            raise KafkavalError(f"workers not ready within {READY_TIMEOUT:.0f} s") from None
        finally:
            for p in self.procs:
                p.join(15)
                if p.is_alive():
                    p.terminate()
                    p.join(5)


def merge(
    results: list[dict[str, Any]], shares: list[tuple[Phase, ...]], phases: tuple[Phase, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate the workers' arrays phase by phase, so phase bounds still hold."""
    cols: dict[str, list[np.ndarray]] = {"intended": [], "sent": [], "acked": []}
    for k in range(len(phases)):
        for r, share in zip(results, shares, strict=True):
            lo = sum(p.count for p in share[:k])
            hi = lo + share[k].count
            for name in cols:
                arr = (
                    np.frombuffer(array("q", r[name]), dtype=np.int64)
                    if r[name]
                    else np.zeros(0, dtype=np.int64)
                )
                cols[name].append(arr[lo:hi])
    return tuple(np.concatenate(cols[n]) for n in ("intended", "sent", "acked"))  # type: ignore[return-value]


def sum_errors(per_worker: Iterable[dict[str, int]]) -> dict[str, int]:
    """The workers' client error counts, summed per error name."""
    total: dict[str, int] = {}
    for errors in per_worker:
        for name, n in errors.items():
            total[name] = total.get(name, 0) + n
    return total
