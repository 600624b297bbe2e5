"""The performance suite: run the profiles, check thresholds, write the run record.

``run_suite`` is what ``kafkaval perf run`` calls: preflight, then each
profile (``repeat`` times) with its own topics, producer and consumer, the
/metrics endpoint up for the whole suite, and finally the run record
(``results/performance-<run_id>.json`` and ``results/latest-performance.json``).
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

from kafkaval.config import Settings
from kafkaval.environment import run_environment
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.histogram import BUCKET_ERROR_BOUND
from kafkaval.records import SCHEMA_VERSION, iso, new_run_id, save_run_record, utc_now
from kafkaval.signals import stop_on_signals
from kafkaval.tags import describe
from loadgen import cost, results, topics
from loadgen import profiles as prof
from loadgen.broker_resources import broker_peaks
from loadgen.consumer import RunConsumer
from loadgen.distributed import ENGINES
from loadgen.endpoint import JOB, instance_name, metrics_endpoint
from loadgen.metrics import LoadgenCollector
from loadgen.payloads import PAYLOAD_KINDS
from loadgen.producer import PacedProducer
from loadgen.recorder import UNSET
from loadgen.startup import measure_startup
from loadgen.startup_container import measure_container_startup
from loadgen.thresholds import LATENCY_STATS, AbortWatch, Threshold
from loadgen.workers import split_phases
from loadgen.workload import Workload, consumer_config, default_topics, producer_config
from loadgen.workload_file import load_workload
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
    # None for key space, payload, partitions: the profile's, else 100000, "cdc", 3.
    key_space: int | None = None  # primary keys drawn uniformly from 1..key_space
    workers: int = 1
    keep_topics: bool = False
    payload: str | None = None
    partitions: int | None = None
    replication_factor: int | None = None
    topic_prefix: str | None = None
    thresholds: dict[str, float] = dataclasses.field(default_factory=dict)  # NAME=VALUE limits
    # Threshold expressions added to every profile whose kind records their figures.
    threshold_exprs: list[Threshold] = dataclasses.field(default_factory=list)
    workload_files: list[str] = dataclasses.field(default_factory=list)
    # Stop the run once a threshold is lost for good (k6's abortOnFail).
    abort_on_fail: bool = False
    # --tag key=value (kafkaval.tags): in the record and on every metric of the run.
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    producer_props: dict[str, str] = dataclasses.field(default_factory=dict)
    progress: bool | None = None  # None: live line on a TTY, a line per second otherwise
    need_prometheus: bool = True
    linger: bool = True
    consume: bool = True  # False: no run consumer (a producer-only benchmark)
    engine: str = "local"  # where the workers run: local processes, or loadgen.distributed
    engine_prefix: str = "kafkaval-worker"  # engine-side names (Swarm service) start with it
    # --engine external: starts the workers given (run id, N, args, env); None prints how.
    engine_start: Callable[[str, int, list[str], dict[str, str]], None] | None = None

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
        if self.key_space is not None and self.key_space < 1:
            raise UsageError(f"--key-space must be >= 1, not {self.key_space}")
        if self.record_size is not None and self.record_size <= 0:
            raise UsageError(f"--record-size must be > 0 bytes, not {self.record_size}")
        if self.messages is not None and self.messages <= 0:
            raise UsageError(f"--messages must be > 0, not {self.messages}")
        # Worker i serves metrics_port + i: 16 keeps them clear of the stack
        # exporter (+17), the delivery runner (+90) and the scheduler (+95).
        if not 1 <= self.workers <= MAX_WORKERS:
            raise UsageError(f"--workers must be 1..{MAX_WORKERS}, not {self.workers}")
        if self.engine not in ENGINES:
            raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.payload is not None and self.payload not in PAYLOAD_KINDS:
            raise UsageError(f"--payload must be one of {', '.join(PAYLOAD_KINDS)}")
        if self.partitions is not None and self.partitions < 1:
            raise UsageError(f"--partitions must be >= 1, not {self.partitions}")


def build_workload(spec: prof.ProfileSpec, opts: SuiteOptions, settings: Settings) -> Workload:
    """The Workload of a load profile: the run's options over the profile's file.

    Raises:
        UsageError: the combination cannot run (e.g. records too small for the payload).
    """
    prefix = settings.topic_prefix if opts.topic_prefix is None else opts.topic_prefix
    wl = Workload(
        name=spec.name,
        topics=spec.topics or tuple(default_topics(prefix)),
        phases=prof.scaled_phases(spec, opts.quick, opts.rate, opts.messages, opts.duration),
        key_space=opts.key_space or spec.key_space or 100_000,
        record_size=opts.record_size or spec.record_size,
        # --record-size gives every record that size.
        record_sizes=() if opts.record_size else spec.record_sizes,
        payload=opts.payload or spec.payload or "cdc",
        partitions=opts.partitions or spec.partitions or 3,
        replication_factor=opts.replication_factor
        or spec.replication_factor
        or (3 if settings.brokers >= 3 else 1),
        producer_props=spec.producer,
        consumer_props=spec.consumer,
        consume=opts.consume,
    )
    wl.validate()
    return wl


def resolve_profiles(opts: SuiteOptions) -> list[prof.ProfileSpec]:
    """The seed profiles asked for (all without --profile and --workload), then the files.

    Raises:
        UsageError: an unknown profile, a bad workload file, or two profiles of one name.
    """
    specs = prof.resolve(opts.profiles) if opts.profiles or not opts.workload_files else []
    for path in opts.workload_files:
        spec = load_workload(path)
        if any(s.name == spec.name for s in specs):
            raise UsageError(
                f"workload {path}: a profile named {spec.name!r} is already in this run; "
                "rename it (name = ...)"
            )
        specs.append(spec)
    return specs


# Figures that mean nothing at max rate: no target, and service time is queueing time.
_PACED_FIGURES = {"target_rate", *(f"service_latency_seconds.{q}" for q in LATENCY_STATS)}


def profile_thresholds(spec: prof.ProfileSpec, opts: SuiteOptions) -> dict[str, Threshold]:
    """The profile's thresholds with the run's limits and expressions."""
    base = dict(spec.thresholds)
    if opts.rate == prof.MAX_RATE:
        # Unpaced, the client queue fills on purpose (as for snapshot).
        base = {n: t for n, t in base.items() if not t.figures & _PACED_FIGURES}
    out = results.thresholds_with(base, opts.thresholds)
    for t in opts.threshold_exprs:
        if t.applies_to(spec.kind):
            out[t.name] = t
    return out


def check_thresholds(specs: list[prof.ProfileSpec], opts: SuiteOptions) -> None:
    """Raises UsageError for a NAME=VALUE limit no profile has, or an expression
    on figures no profile of this run records."""
    for t in opts.threshold_exprs:
        if specs and not any(t.applies_to(s.kind) for s in specs):
            kinds = ", ".join(sorted({s.kind for s in specs}))
            raise UsageError(
                f"threshold {t.expr!r} uses a figure no profile of this run records "
                f"(their kinds: {kinds}); drop it or add a profile that has it"
            )
    known = {n for s in [*prof.PROFILES.values(), *specs] for n in s.thresholds}
    for name in opts.thresholds:
        if name not in known:
            raise UsageError(
                f"unknown threshold {name!r}; known: {', '.join(sorted(known))} "
                "(or give an expression such as 'p99(e2e) < 50ms')"
            )


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
    """
    topics.create_topics(settings, wl.topics, wl.partitions, wl.replication_factor)
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

            return run_engine_workers(
                settings, spec, wl, collector, opts, running, progress, label, consumer
            )
        if opts.workers > 1:
            from loadgen.workers import run_workers

            return run_workers(
                settings, spec, wl, collector, opts, running, progress, label, consumer, watch
            )
        producer = PacedProducer(
            wl,
            producer_config(settings, opts.producer_props, wl.producer_props),
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
        if consumer is not None:
            out.update(consumer.id_mismatch({0: acked != UNSET}))
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


def seconds_so_far(values_us: Any) -> np.ndarray:
    """A copy (the recorder keeps appending) of µs latencies so far, in seconds."""
    if values_us is None:
        return np.zeros(0)
    return np.frombuffer(values_us[:], dtype=np.int64) / 1e6


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
    specs = resolve_profiles(opts)
    check_thresholds(specs, opts)
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
    aborted: dict[str, Any] | None = None  # the threshold --abort-on-fail stopped the run on
    with (
        stop_on_signals(running.clear),
        metrics_endpoint(settings, collector, 0, linger=opts.linger, tags=opts.tags) as address,
    ):
        print(f"metrics: http://{address}/metrics (job {JOB})", file=out)
        if opts.tags:
            print(f"tags: {describe(opts.tags)}", file=out)
        for spec in specs:
            reps = []
            thresholds = profile_thresholds(spec, opts)
            watch = AbortWatch(thresholds, running.clear) if opts.abort_on_fail else None
            for r in range(opts.repeat):
                if not running.is_set():
                    break
                label = spec.name + (f" {r + 1}/{opts.repeat}" if opts.repeat > 1 else "")
                print(f"== {label}: {spec.description}", file=out)
                rep_started = utc_now()
                cpu_before = cost.process_cpu_seconds()
                try:
                    res = _run_repetition(
                        settings, spec, workloads, collector, opts, running, progress, label, watch
                    )
                except UsageError:
                    raise
                except Exception as e:  # noqa: BLE001 - the record must say why, whatever broke
                    res = broken_result(e)
                    print(f"   FAIL {spec.name}: {res['error']}", file=out)
                rep_ended = utc_now()
                if spec.kind == "load":
                    res["loadgen_cpu_seconds"] = round(cost.process_cpu_seconds() - cpu_before, 4)
                # Wall-clock window of this repetition: the report queries Prometheus over it.
                res["started_at"], res["ended_at"] = iso(rep_started), iso(rep_ended)
                if "error" in res:
                    # No figures to check. The remaining profiles still run: each has its own
                    # topics (deleted after it), so one broken profile hides none of the others.
                    reps.append(res)
                    break
                if spec.kind == "load" and opts.need_prometheus:
                    res.update(
                        broker_peaks(
                            settings.prometheus_url,
                            rep_started,
                            rep_ended,
                            settings.scrape_interval,
                        )
                    )
                if spec.kind == "load":
                    res.update(cost.cost_figures(res, workloads[spec.name].record_size))
                res["thresholds"] = results.check(res, thresholds)
                res["passed"] = all(c["passed"] for c in res["thresholds"].values())
                reps.append(res)
                print(_one_line(spec.name, res), file=out)
                if watch is not None and watch.lost is not None:
                    lost = watch.lost
                    aborted = {"profile": spec.name, "threshold": lost.name, **lost.as_record()}
                    print(
                        f"aborted: threshold {lost.name} ({lost.expr}) lost with "
                        f"{lost.value:g} against {lost.limit:g}",
                        file=out,
                    )
                    break
            if reps:
                profiles_out[spec.name] = results.combine(reps)
                # The profile's window spans all its repetitions.
                profiles_out[spec.name]["started_at"] = reps[0]["started_at"]
                profiles_out[spec.name]["ended_at"] = reps[-1]["ended_at"]
                profiles_out[spec.name]["parameters"] = _parameters(spec, workloads, opts)
                broke = [r["error"] for r in reps if "error" in r]
                if broke:
                    profiles_out[spec.name]["error"] = broke[0]
        ended = utc_now()
    interrupted = not running.is_set()
    record = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "kind": "performance",
        "started_at": iso(started),
        "ended_at": iso(ended),
        "quick": opts.quick,
        "tags": dict(opts.tags),
        "passed": bool(profiles_out)
        and not interrupted
        and all(p["passed"] for p in profiles_out.values()),
        "interrupted": interrupted,
        "aborted": aborted,
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


def _run_repetition(
    settings: Settings,
    spec: prof.ProfileSpec,
    workloads: dict[str, Workload],
    collector: LoadgenCollector,
    opts: SuiteOptions,
    running: threading.Event,
    progress: Progress,
    label: str,
    watch: AbortWatch | None,
) -> dict[str, Any]:
    """One repetition of any profile kind; returns its result (without checks)."""
    if spec.kind == "startup":
        return {
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
    return run_load(
        settings, spec, workloads[spec.name], collector, opts, running, progress, label, watch
    )


def broken_result(error: BaseException) -> dict[str, Any]:
    """The result of a repetition that raised: failed, with its reason; no figure measured."""
    reason = str(error) if isinstance(error, KafkavalError) else f"{type(error).__name__}: {error}"
    return {
        "target_rate": None,
        "achieved_rate": None,
        "sent": None,
        "acked": None,
        "failed": None,
        "consumed": None,
        **{f: results.summarize_us([]) for f in results.LATENCY_FIELDS},
        "error": reason or type(error).__name__,
        "thresholds": {},
        "passed": False,
    }


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
            record_sizes=[{"size": s, "weight": w} for s, w in wl.record_sizes],
            payload=wl.payload,
            key_space=wl.key_space,
            phases=[{"count": p.count, "rate": p.rate} for p in wl.phases],
            producer_props={**wl.producer_props, **opts.producer_props},
            consumer_props=dict(wl.consumer_props),
        )
    return params


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1e3:.1f}"


def _count(v: int | None) -> str:
    return "-" if v is None else str(v)


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
        if r.get("error"):
            other = f"error: {r['error']}"
        elif r.get("startup_seconds") is not None:
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
                _count(r["sent"]),
                _count(r["acked"]),
                _count(r["failed"]),
                _count(r["consumed"]),
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
