"""The performance suite: run the profiles, check thresholds, write the run record.

``run_suite`` is what ``kafkaval perf run`` calls: preflight, then each
profile (``repeat`` times) with its own topics, producer and consumer, the
/metrics endpoint up for the whole suite, and finally the run record
(``results/performance-<run_id>.json`` and ``results/latest-performance.json``).
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import numpy as np

from kafkaval.config import Settings
from kafkaval.environment import run_environment
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.records import iso, new_run_id, save_run_record, utc_now
from loadgen import profiles as prof
from loadgen import results, topics
from loadgen.broker_resources import broker_peaks
from loadgen.consumer import RunConsumer
from loadgen.endpoint import JOB, instance_name, metrics_endpoint
from loadgen.metrics import BUCKET_ERROR_BOUND, LoadgenCollector
from loadgen.payloads import PAYLOAD_KINDS, min_record_size
from loadgen.producer import PacedProducer
from loadgen.startup import measure_startup
from loadgen.startup_container import measure_container_startup
from loadgen.workers import split_phases
from loadgen.workload import Workload, consumer_config, default_topics, producer_config
from stack.processes import rss_bytes

MAX_WORKERS = 16


@dataclasses.dataclass
class SuiteOptions:
    """What ``perf run`` was asked to do (validated by ``validate``)."""

    quick: bool = False
    repeat: int = 1
    profiles: list[str] | None = None
    rate: float | str | None = None  # msg/s, or "max"
    record_size: int | None = None
    messages: int | None = None
    duration: float | None = None  # seconds of the measured phase (count = rate x duration)
    key_space: int = 100_000  # primary keys drawn uniformly from 1..key_space
    workers: int = 1
    keep_topics: bool = False
    payload: str = "cdc"
    partitions: int = 3
    replication_factor: int | None = None
    topic_prefix: str | None = None
    thresholds: dict[str, float] = dataclasses.field(default_factory=dict)
    producer_props: dict[str, str] = dataclasses.field(default_factory=dict)
    progress: bool | None = None  # None: live line on a TTY, a line per second otherwise
    need_prometheus: bool = True
    linger: bool = True

    def validate(self) -> None:
        """Raises UsageError for options that cannot run."""
        if self.repeat < 1:
            raise UsageError(f"--repeat must be >= 1, not {self.repeat}")
        if isinstance(self.rate, str) and self.rate != prof.MAX_RATE:
            raise UsageError(f"--rate must be a number > 0 or 'max', not {self.rate!r}")
        if isinstance(self.rate, int | float) and not self.rate > 0:
            raise UsageError(f"--rate must be > 0 msg/s, not {self.rate:g}")
        if self.messages is not None and self.duration is not None:
            raise UsageError("give --messages or --duration, not both")
        if self.duration is not None and not self.duration > 0:
            raise UsageError(f"--duration must be > 0 seconds, not {self.duration:g}")
        if self.key_space < 1:
            raise UsageError(f"--key-space must be >= 1, not {self.key_space}")
        if self.record_size is not None and self.record_size <= 0:
            raise UsageError(f"--record-size must be > 0 bytes, not {self.record_size}")
        if self.messages is not None and self.messages <= 0:
            raise UsageError(f"--messages must be > 0, not {self.messages}")
        # Worker i serves metrics_port + i: 16 keeps them clear of the stack
        # exporter (+17), the delivery runner (+90) and the scheduler (+95).
        if not 1 <= self.workers <= MAX_WORKERS:
            raise UsageError(f"--workers must be 1..{MAX_WORKERS}, not {self.workers}")
        if self.payload not in PAYLOAD_KINDS:
            raise UsageError(f"--payload must be one of {', '.join(PAYLOAD_KINDS)}")
        size = self.record_size or prof.KIB * 5
        if size < min_record_size(self.payload):
            raise UsageError(
                f"record size {size} B is too small for {self.payload} payloads "
                f"(minimum {min_record_size(self.payload)} B)"
                + ("; use --payload raw" if self.payload == "cdc" else "")
            )


def build_workload(spec: prof.ProfileSpec, opts: SuiteOptions, settings: Settings) -> Workload:
    prefix = settings.topic_prefix if opts.topic_prefix is None else opts.topic_prefix
    wl = Workload(
        name=spec.name,
        topics=tuple(default_topics(prefix)),
        phases=prof.scaled_phases(spec, opts.quick, opts.rate, opts.messages, opts.duration),
        key_space=opts.key_space,
        record_size=opts.record_size or spec.record_size,
        payload=opts.payload,
        partitions=opts.partitions,
        replication_factor=opts.replication_factor or (3 if settings.brokers >= 3 else 1),
    )
    wl.validate()
    return wl


class _Sampler(threading.Thread):
    """Samples the process RSS every 0.5 s and prints progress every second."""

    def __init__(self, every: float, tick: Callable[[float], None]) -> None:
        super().__init__(daemon=True, name="sampler")
        self.every = every
        self.tick = tick
        self.rss: list[tuple[float, int]] = []
        self.stop_event = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            now = time.monotonic() - self.t0
            self.rss.append((now, rss_bytes() or 0))
            self.tick(now)


class Progress:
    """The live line: profile, elapsed/ETA, current rate, p99, acked/failed."""

    def __init__(self, out: TextIO, live: bool | None) -> None:
        self.out = out
        self.tty = out.isatty() if live is None else live
        self._last_print = 0.0

    def line(self, text: str) -> None:
        if self.tty:
            self.out.write("\r\033[K" + text)
        else:
            now = time.monotonic()
            if now - self._last_print < 1.0:
                return
            self._last_print = now
            self.out.write(text + "\n")
        self.out.flush()

    def done(self) -> None:
        if self.tty:
            self.out.write("\r\033[K")
            self.out.flush()


@contextmanager
def _stop_on_signals(running: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM only clear ``running``; the loop then ends and cleans up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signo: int, _frame: Any) -> None:
        running.clear()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_load(
    settings: Settings,
    spec: prof.ProfileSpec,
    wl: Workload,
    collector: LoadgenCollector,
    opts: SuiteOptions,
    running: threading.Event,
    progress: Progress,
    label: str,
) -> dict[str, Any]:
    """One repetition of a load profile; returns its result (without checks)."""
    topics.create_topics(settings, wl.topics, wl.partitions, wl.replication_factor)
    consumer = None
    try:
        if opts.workers > 1:
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
                consumer_config(settings, f"kafkaval-perf-{spec.name}-{new_run_id()}"),
            )
            collector.attach_consumer(consumer)
            consumer.start()
        if opts.workers > 1:
            from loadgen.workers import run_workers

            return run_workers(
                settings, spec, wl, collector, opts, running, progress, label, consumer
            )
        producer = PacedProducer(
            wl,
            producer_config(settings, opts.producer_props),
            running=running,
            on_phase=lambda p: collector.set_target_rate(spec.name, p.rate or None),
        )
        collector.attach_producer(producer)
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
            progress.line(
                f"{label}: {elapsed:5.1f}s{eta} sent {rec.sent_count}/{total} "
                f"acked {rec.acked_count} failed {rec.failed_count} consumed {consumed} "
                f"~{rate:,.0f} msg/s p99 {p99:.1f} ms"
            )

        sampler = _Sampler(0.5, tick)
        sampler.start()
        try:
            producer.run()
        finally:
            collector.set_target_rate(spec.name, 0.0)
            drain_s = None
            if consumer is not None and running.is_set():
                if consumer.drain(producer.recorder.acked_count, 30 + wl.count / 5000):
                    # Drain: from the last ack until the consumer had everything.
                    drain_s = max(0.0, consumer.last_consume_mono - producer.last_ack_mono)
            sampler.stop_event.set()
            sampler.join(2)
            progress.done()
            collector.detach(producer)
        intended, sent, acked = producer.recorder.arrays()
        e2e = np.frombuffer(consumer.recorder.e2e_done, dtype=np.int64) if consumer else None
        out = results.load_result(
            spec,
            wl.phases,
            intended,
            sent,
            acked,
            producer.recorder.failed_count,
            e2e if e2e is not None else np.zeros(0, dtype=np.int64),
            consumer.consumed if consumer else 0,
            consumer.recorder.duplicates if consumer else 0,
            drain_s,
            sampler.rss,
        )
        if producer.errors:
            out["client_errors"] = dict(producer.errors)
        return out
    finally:
        if consumer is not None:
            collector.detach(consumer)
            consumer.close()
        if not opts.keep_topics:
            try:
                topics.delete_topics(settings, wl.topics)
            except KafkavalError as e:  # the run's result stands; say what is left behind
                print(f"warning: {e}", file=sys.stderr)


def _needs(workloads: list[Workload]) -> tuple[int, int]:
    """(disk bytes, memory bytes) the largest profile needs (topics are deleted between)."""
    if not workloads:
        return 0, 256 * 2**20
    biggest = max(w.count * w.record_size for w in workloads)
    disk = int(biggest * 1.25) + 256 * 2**20
    memory = max(w.count for w in workloads) * 8 * 4 + 512 * 2**20
    return disk, memory


def run_suite(
    settings: Settings,
    opts: SuiteOptions,
    out: TextIO = sys.stdout,
    collector: LoadgenCollector | None = None,
) -> dict[str, Any]:
    """Preflight, run the profiles, save the run record; returns it.

    Raises:
        UsageError: bad options; KafkavalError: preflight refused or a run broke.
    """
    opts.validate()
    specs = prof.resolve(opts.profiles)
    overrides = opts.thresholds
    workloads = {s.name: build_workload(s, opts, settings) for s in specs if s.kind == "load"}
    disk, memory = _needs(list(workloads.values()))
    notes = topics.preflight(settings, disk, memory, opts.need_prometheus)
    for n in notes:
        print(f"preflight ok: {n}", file=out)
    collector = collector or LoadgenCollector()
    running = threading.Event()
    running.set()
    progress = Progress(out, opts.progress)
    run_id = new_run_id()
    started = utc_now()
    profiles_out: dict[str, Any] = {}
    with (
        _stop_on_signals(running),
        metrics_endpoint(settings, collector, 0, linger=opts.linger) as address,
    ):
        print(f"metrics: http://{address}/metrics (job {JOB})", file=out)
        for spec in specs:
            reps = []
            base = spec.thresholds
            if opts.rate == prof.MAX_RATE:
                # Unpaced, the client queue fills on purpose: service time is
                # queueing time and there is no target rate (as for snapshot).
                base = dataclasses.replace(base, min_rate_ratio=None, max_p95_service_seconds=None)
            thresholds = results.thresholds_with(base, overrides)
            for r in range(opts.repeat):
                if not running.is_set():
                    break
                label = spec.name + (f" {r + 1}/{opts.repeat}" if opts.repeat > 1 else "")
                print(f"== {label}: {spec.description}", file=out)
                rep_started = utc_now()
                if spec.kind == "startup":
                    res: dict[str, Any] = {
                        "target_rate": None,
                        "achieved_rate": None,
                        "sent": 0,
                        "acked": 0,
                        "failed": 0,
                        "consumed": 0,
                        **{f: results.summarize_us([]) for f in results.LATENCY_FIELDS},
                        **(
                            measure_container_startup(settings)
                            if settings.startup_image
                            else measure_startup(settings)
                        ),
                    }
                else:
                    res = run_load(
                        settings,
                        spec,
                        workloads[spec.name],
                        collector,
                        opts,
                        running,
                        progress,
                        label,
                    )
                rep_ended = utc_now()
                # Wall-clock window of this repetition: the report queries Prometheus over it.
                res["started_at"], res["ended_at"] = iso(rep_started), iso(rep_ended)
                if spec.kind == "load" and opts.need_prometheus:
                    res.update(
                        broker_peaks(
                            settings.prometheus_url,
                            rep_started,
                            rep_ended,
                            settings.scrape_interval,
                        )
                    )
                res["thresholds"] = results.check(res, thresholds)
                res["passed"] = all(c["passed"] for c in res["thresholds"].values())
                reps.append(res)
                print(_one_line(spec.name, res), file=out)
            if reps:
                profiles_out[spec.name] = results.combine(reps)
                # The profile's window spans all its repetitions.
                profiles_out[spec.name]["started_at"] = reps[0]["started_at"]
                profiles_out[spec.name]["ended_at"] = reps[-1]["ended_at"]
                profiles_out[spec.name]["parameters"] = _parameters(spec, workloads, opts)
        ended = utc_now()
    interrupted = not running.is_set()
    record = {
        "run_id": run_id,
        "kind": "performance",
        "started_at": iso(started),
        "ended_at": iso(ended),
        "quick": opts.quick,
        "passed": bool(profiles_out)
        and not interrupted
        and all(p["passed"] for p in profiles_out.values()),
        "interrupted": interrupted,
        "repeat": opts.repeat,
        "bootstrap_servers": settings.bootstrap_servers,
        "prometheus_url": settings.prometheus_url,
        "environment": run_environment(settings),
        "metrics": {
            "job": JOB,
            "instances": [instance_name(i) for i in range(opts.workers + 1)],
            "histogram_error_bound": BUCKET_ERROR_BOUND,
        },
        "preflight": notes,
        "profiles": profiles_out,
    }
    path = save_run_record(settings.results_dir, record)
    print(summary_table(record), file=out)
    print(f"run record: {path}", file=out)
    return record


def _parameters(
    spec: prof.ProfileSpec, workloads: dict[str, Workload], opts: SuiteOptions
) -> dict[str, Any]:
    wl = workloads.get(spec.name)
    params: dict[str, Any] = {
        "description": spec.description,
        "quick": opts.quick,
        "workers": opts.workers,
    }
    if wl is not None:
        params.update(
            topics=list(wl.topics),
            partitions=wl.partitions,
            replication_factor=wl.replication_factor,
            record_size=wl.record_size,
            payload=wl.payload,
            key_space=wl.key_space,
            phases=[{"count": p.count, "rate": p.rate} for p in wl.phases],
            producer_props=opts.producer_props,
        )
    return params


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1e3:.1f}"


def _one_line(name: str, r: dict[str, Any]) -> str:
    verdict = "PASS" if r["passed"] else "FAIL"
    failed = [k for k, c in r["thresholds"].items() if not c["passed"]]
    if "startup_seconds" in r:
        return f"   {verdict} startup {r['startup_seconds']:.2f} s" + (
            f" (failed: {', '.join(failed)})" if failed else ""
        )
    rate = r["achieved_rate"]
    return (
        f"   {verdict} {name}: {r['acked']}/{r['sent']} acked, {r['failed']} failed, "
        f"{r['consumed']} consumed, {rate or 0:,.0f} msg/s, service p95 "
        f"{_ms(r['service_latency_seconds']['p95'])} ms"
        + (f" (failed: {', '.join(failed)})" if failed else "")
    )


def summary_table(record: dict[str, Any]) -> str:
    """The end-of-run table (one row per profile)."""
    head = (
        "profile",
        "result",
        "target/s",
        "achieved/s",
        "sent",
        "acked",
        "failed",
        "consumed",
        "svc p50 ms",
        "svc p95",
        "svc p99",
        "resp p99",
        "e2e p99",
        "other",
    )
    rows = [head]
    for name, r in record["profiles"].items():
        other = ""
        if r.get("startup_seconds") is not None:
            other = f"startup {r['startup_seconds']:.2f} s"
        elif r.get("recovery_seconds", 0) is None:
            other = "no recovery"
        elif r.get("recovery_seconds") is not None:
            other = f"recovery {r['recovery_seconds']:.2f} s"
        elif r.get("drain_seconds") is not None and name == "snapshot":
            other = f"produce {r['produce_seconds']:.1f} s, drain {r['drain_seconds']:.1f} s"
        elif name == "sustained" and r.get("drift"):
            d = r["drift"]
            other = (
                f"p99 {_ms(d['p99_first_quarter_seconds'])}->{_ms(d['p99_last_quarter_seconds'])}"
            )
        rows.append(
            (
                name,
                "PASS" if r["passed"] else "FAIL",
                "-"
                if "startup_seconds" in r
                else ("max" if not r.get("target_rate") else f"{r['target_rate']:g}"),
                "-" if r.get("achieved_rate") is None else f"{r['achieved_rate']:,.0f}",
                str(r["sent"]),
                str(r["acked"]),
                str(r["failed"]),
                str(r["consumed"]),
                _ms(r["service_latency_seconds"]["p50"]),
                _ms(r["service_latency_seconds"]["p95"]),
                _ms(r["service_latency_seconds"]["p99"]),
                _ms(r["response_latency_seconds"]["p99"]),
                _ms(r["e2e_latency_seconds"]["p99"]),
                other,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += _spread_lines(record)
    verdict = "PASSED" if record["passed"] else "FAILED"
    return "\n".join(lines) + f"\nperformance suite {verdict}"


# Spread fields shown under the table with REPEAT > 1, and how to print them.
_SPREAD_SHOWN = (
    ("achieved_rate", "achieved/s", lambda v: f"{v:,.0f}"),
    ("service_latency_seconds.p95", "svc p95 ms", _ms),
    ("service_latency_seconds.p99", "svc p99 ms", _ms),
    ("e2e_latency_seconds.p99", "e2e p99 ms", _ms),
    ("startup_seconds", "startup s", lambda v: f"{v:.2f}"),
)


def _spread_lines(record: dict[str, Any]) -> list[str]:
    """With repetitions: median [min..max] of the key figures per profile."""
    if record.get("repeat", 1) <= 1:
        return []
    lines = [f"\nmedian [min .. max] over {record['repeat']} repetitions:"]
    for name, r in record["profiles"].items():
        spread = r.get("spread") or {}
        parts = [
            f"{label} {fmt(spread[key]['median'])} [{fmt(spread[key]['min'])} .. "
            f"{fmt(spread[key]['max'])}]"
            for key, label, fmt in _SPREAD_SHOWN
            if key in spread
        ]
        lines.append(f"  {name}: " + ("; ".join(parts) or "no repeated figures"))
    return lines
