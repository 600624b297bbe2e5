"""The performance suite: run the profiles, check thresholds, write the run record.

``run_suite`` is what ``kafkaval perf run`` calls: preflight, then each
profile (``repeat`` times) with its own topics, producer and consumer, the
/metrics endpoint up for the whole suite, and finally the run record
(``results/performance-<run_id>.json`` and ``results/latest-performance.json``).
The options live in loadgen.options, one repetition of a load profile in
loadgen.repetition, what is printed in loadgen.console.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO, cast

from kafkaval.config import Settings
from kafkaval.environment import run_environment
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.histogram import BUCKET_ERROR_BOUND
from kafkaval.record_types import (
    AbortedThreshold,
    PerformanceRecord,
    ProfileEntry,
    ProfileParameters,
)
from kafkaval.records import iso, new_run_id, record_header, save_run_record, utc_now
from kafkaval.signals import stop_on_signals
from kafkaval.tags import describe
from kafkaval.verdict import all_passed
from loadgen import cost, results, topics
from loadgen import profiles as prof
from loadgen.broker_resources import broker_peaks
from loadgen.console import Progress, profile_line, summary_table
from loadgen.early_abort import AbortWatch
from loadgen.endpoint import JOB, instance_name, metrics_endpoint
from loadgen.metrics import LoadgenCollector
from loadgen.options import (
    SuiteOptions,
    build_workload,
    check_thresholds,
    profile_thresholds,
    resolve_profiles,
)
from loadgen.repetition import run_load
from loadgen.startup import measure_startup
from loadgen.startup_container import measure_container_startup
from loadgen.workload import Workload


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
) -> PerformanceRecord:
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
    profiles_out: dict[str, ProfileEntry] = {}
    aborted: AbortedThreshold | None = None  # the threshold --abort-on-fail stopped the run on
    with (
        stop_on_signals(running.clear),
        metrics_endpoint(settings, collector, 0, linger=opts.linger, tags=opts.tags) as address,
    ):
        print(f"metrics: http://{address}/metrics (job {JOB})", file=out)
        if opts.tags:
            print(f"tags: {describe(opts.tags)}", file=out)
        for spec in specs:
            reps: list[dict[str, Any]] = []
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
                checks = results.threshold_checks(res, thresholds)
                res["thresholds"] = results.threshold_records(checks)
                res["passed"] = all_passed(checks)
                reps.append(res)
                print(profile_line(spec.name, res), file=out)
                if watch is not None and watch.lost is not None:
                    lost = watch.lost
                    aborted = {"profile": spec.name, "threshold": lost.name, **lost.to_record()}
                    print(
                        f"aborted: threshold {lost.name} ({lost.expr}) lost with "
                        f"{lost.measured:g} against {lost.limit:g}",
                        file=out,
                    )
                    break
            if reps:
                profiles_out[spec.name] = _profile_entry(reps, _parameters(spec, workloads, opts))
        ended = utc_now()
    interrupted = not running.is_set()
    record: PerformanceRecord = {
        **record_header(
            "performance",
            run_id,
            started,
            ended,
            environment=run_environment(settings),
            quick=opts.quick,
            tags=opts.tags,
        ),
        "passed": bool(profiles_out)
        and not interrupted
        and all(p["passed"] for p in profiles_out.values()),
        "interrupted": interrupted,
        "aborted": aborted,
        "repeat": opts.repeat,
        "bootstrap_servers": settings.bootstrap_servers,
        "prometheus_url": settings.prometheus_url,
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


def _profile_entry(reps: list[dict[str, Any]], parameters: ProfileParameters) -> ProfileEntry:
    """A profile's record entry from its repetitions' results (each judged, or broken)."""
    # The repetitions are built up untyped by several modules (loadgen.results,
    # the cost and broker figures); here each is complete and the record's type begins.
    entry = cast(ProfileEntry, results.combine(reps))
    # The profile's window spans all its repetitions.
    entry["started_at"] = reps[0]["started_at"]
    entry["ended_at"] = reps[-1]["ended_at"]
    entry["parameters"] = parameters
    broke = [r["error"] for r in reps if "error" in r]
    if broke:
        entry["error"] = broke[0]
    return entry


def _parameters(
    spec: prof.ProfileSpec, workloads: dict[str, Workload], opts: SuiteOptions
) -> ProfileParameters:
    wl = workloads.get(spec.name)
    params: ProfileParameters = {
        "description": spec.description,
        "quick": opts.quick,
        "workers": opts.workers,
    }
    if wl is not None:
        params.update(
            {
                "topics": list(wl.topics),
                "partitions": wl.partitions,
                "replication_factor": wl.replication_factor,
                "record_size": wl.record_size,
                "record_sizes": [{"size": s, "weight": w} for s, w in wl.record_sizes],
                "payload": wl.payload,
                "key_space": wl.key_space,
                "phases": [{"count": p.count, "rate": p.rate} for p in wl.phases],
                "producer_props": {**wl.producer_props, **opts.producer_props},
                "consumer_props": dict(wl.consumer_props),
            }
        )
    return params
