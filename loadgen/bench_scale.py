"""``make bench-scale``: does the load add up as workers are added? (A benchmark.)

The 100-byte max-rate case (the snapshot profile, raw payloads, no consumer)
with 1, 2 and 3 workers on an engine (``--engine swarm`` by default), each
case checked for exact totals: the acks the workers reported against an
independent read-back of the topics (loadgen.readback). Kafka's own
ProducerPerformance on a topic with the same number of partitions gives the
reference rate of one JVM client. Efficiency is the rate with N workers over
N times the one-worker rate. On one small machine the broker shares the cores
with the workers, so the efficiency falls once the broker saturates; the
point is that the totals stay exact and the rate adds up until then.
Result: a table and ``results/bench-scale.json`` (with the machine's load
average after each case: on a shared machine the figures move with it).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, TextIO

from kafkaval import kafka_admin
from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.files import write_atomic
from loadgen import topics
from loadgen.compare import run_perf_test
from loadgen.console import Progress
from loadgen.metrics import LoadgenCollector
from loadgen.options import SuiteOptions, build_workload
from loadgen.profiles import PROFILES
from loadgen.readback import count_loadgen_messages
from loadgen.repetition import run_load

WORKER_COUNTS = (1, 2, 3)
RECORD_SIZE = 100


def run_scale(
    settings: Settings,
    engine: str = "swarm",
    quick: bool = False,
    messages: int | None = None,
    out: TextIO = sys.stdout,
) -> dict[str, Any]:
    """Run the cases, print the table, write results/bench-scale.json.

    Raises:
        KafkavalError: a case failed, or its totals were not exact.
    """
    n = messages or (200_000 if quick else 1_000_000)
    spec = PROFILES["snapshot"]
    topics.preflight(settings, int(n * RECORD_SIZE * 2.5), 512 * 2**20, need_prometheus=False)
    running = threading.Event()
    running.set()
    cases: list[dict[str, Any]] = []
    first = build_workload(spec, _opts(engine, n, 1), settings)
    partitions = first.partitions * len(first.topics)
    ref_topic = settings.topic_prefix + "bench-scale"
    kafka_admin.create_topics(settings, [ref_topic], partitions, first.replication_factor)
    try:
        perf = run_perf_test(settings, ref_topic, n, RECORD_SIZE, None)
    finally:
        kafka_admin.delete_topics(settings, [ref_topic])
    print(
        f"ProducerPerformance: {perf['msgs_per_s']:,.0f} msg/s ({partitions} partitions)", file=out
    )
    for w in WORKER_COUNTS:
        opts = _opts(engine, n, w)
        wl = build_workload(spec, opts, settings)
        res: dict[str, Any] = {}
        try:
            res = run_load(
                settings,
                spec,
                wl,
                LoadgenCollector(),
                opts,
                running,
                Progress(out, False),
                f"{w} worker(s)",
            )
            counted = sum(count_loadgen_messages(settings, wl.topics).values())
        finally:
            control = (res.get("engine") or {}).get("control_topic")
            kafka_admin.delete_topics(settings, [*wl.topics, *([control] if control else [])])
        if res["acked"] != counted or res["failed"] or res["acked"] != n:
            raise KafkavalError(
                f"{w} worker(s): {res['acked']} acked, {res['failed']} failed, but the topics "
                f"hold {counted} of {n}: totals not exact"
            )
        case = scale_case(w, res, counted, cases[0]["msgs_per_s"] if cases else None)
        rate = case["msgs_per_s"]
        cases.append(case)
        print(
            f"{w} worker(s) on {engine}: {rate:>10,.0f} msg/s, acked {case['acked']}, "
            f"counted {counted}, efficiency {case['efficiency'] or 0:.2f}",
            file=out,
            flush=True,
        )
    result = {
        "engine": engine,
        "record_size": RECORD_SIZE,
        "messages": n,
        "partitions": partitions,
        "perf_test_msgs_per_s": perf["msgs_per_s"],
        "cases": cases,
    }
    path = settings.path("results_dir") / "bench-scale.json"
    write_atomic(path, json.dumps(result, indent=2) + "\n")
    print(f"written: {path}", file=out)
    return result


def scale_case(
    workers: int, res: dict[str, Any], counted: int, one_worker_rate: float | None
) -> dict[str, Any]:
    """One case's entry from its merged result (``one_worker_rate``: None for the first case)."""
    rate = res["achieved_rate"] or 0.0
    base = rate if one_worker_rate is None else one_worker_rate
    rows = res.get("worker_results")
    if not rows and workers == 1:
        rows = [{"achieved_rate": rate}]  # one worker: its span is the run's
    return {
        "workers": workers,
        "msgs_per_s": rate,
        "acked": res["acked"],
        "counted": counted,
        "efficiency": rate / (workers * base) if base else None,
        # Each worker's own rate over its own span, next to the run's rate (all
        # messages over the span from the first send of any worker to the last
        # ack): a worker that started late or ran slower shows here. None: local
        # processes, whose pool reports no per-worker rows.
        "worker_rates": [r.get("achieved_rate") for r in rows] if rows else None,
        "produce_seconds": res.get("produce_seconds"),
        # Other work on the machine moves these figures: say how busy it was.
        "load_average_1m": os.getloadavg()[0],
    }


def _opts(engine: str, messages: int, workers: int) -> SuiteOptions:
    return SuiteOptions(
        profiles=["snapshot"],
        messages=messages,
        record_size=RECORD_SIZE,
        payload="raw",
        workers=workers,
        engine=engine,
        keep_topics=True,  # read back, then deleted here
        progress=False,
        need_prometheus=False,
        consume=False,  # as ProducerPerformance: the producers' rate, the broker not shared
    )
