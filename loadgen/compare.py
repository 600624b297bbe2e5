"""Side by side with Apache Kafka's ProducerPerformance (a benchmark, not a test).

For each record size, at max rate and at a fixed 1000 msg/s, Kafka's own
``org.apache.kafka.tools.ProducerPerformance`` (kafka-producer-perf-test,
from the kafka-tools jar in the cache) and the loadgen producer send the same
number of records to a fresh topic with the same configuration (acks=all,
idempotence, linger.ms, batch.size), one after the other. Latency on both
sides is send -> acknowledgement (ProducerPerformance's callback latency,
the loadgen's service time), with the same client-side queue bound on both
sides (``BUFFER_BYTES``; the run records it). Results: a table (each tool's
p99 next to the rate ratio and the p99 ratio) and ``results/bench-compare.json``.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import numpy as np

from kafkaval import kafka_admin
from kafkaval.config import Settings
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.files import write_atomic
from kafkaval.pacing import Phase
from loadgen import topics
from loadgen.payloads import min_record_size
from loadgen.producer import PacedProducer
from loadgen.recorder import UNSET, summarize_us
from loadgen.workers import WorkerPool, merge
from loadgen.workload import Workload, producer_config
from stack.jars import ensure_kafka_jars, require_java

PARTITIONS = 3
# The producer settings both clients get, so the comparison is like for like.
COMMON_PRODUCER_PROPS = {
    "acks": "all",
    "enable.idempotence": "true",
    "linger.ms": "5",
    "batch.size": "131072",
    "compression.type": "none",
}
# The client-side queue bound, equal on both sides: at max rate a producer's
# send -> ack latency is mostly the time a record waits in its own queue, so
# with their defaults the two tools measure queues of very different sizes:
# Java's buffer.memory is 32 MiB, librdkafka's queue.buffering.max.kbytes
# 1 GiB (capped by queue.buffering.max.messages, 100,000). Both get 32 MiB,
# and librdkafka's message cap is lifted out of the way (at its default it
# would bind first below about 336-byte records), so bytes bound both queues.
BUFFER_BYTES = 32 * 2**20
MAX_QUEUED_MESSAGES = 10_000_000  # more than 32 MiB holds of the smallest record the loadgen makes
PERF_TEST_PROPS = {**COMMON_PRODUCER_PROPS, "buffer.memory": str(BUFFER_BYTES)}
LOADGEN_PROPS = {
    **COMMON_PRODUCER_PROPS,
    "queue.buffering.max.kbytes": str(BUFFER_BYTES // 1024),
    "queue.buffering.max.messages": str(MAX_QUEUED_MESSAGES),
}
DEFAULT_QUEUE_LIMITS = {
    "perf_test": "buffer.memory 32 MiB (Java producer default)",
    "loadgen": "queue.buffering.max.kbytes 1 GiB, queue.buffering.max.messages 100000 "
    "(librdkafka defaults)",
}
_SUMMARY = re.compile(
    r"(\d+) records sent, ([\d.]+) records/sec .*?([\d.]+) ms avg latency, ([\d.]+) ms max "
    r"latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th"
)


def parse_perf_test(output: str) -> dict[str, float]:
    """The final summary line of ProducerPerformance.

    Raises:
        KafkavalError: no summary line (the tool failed; its output is quoted).
    """
    matches = _SUMMARY.findall(output)
    if not matches:
        tail = "\n".join(output.strip().splitlines()[-5:])
        raise KafkavalError(f"ProducerPerformance printed no summary:\n{tail}")
    sent, rate, avg, mx, p50, p95, p99 = matches[-1]
    return {
        "records": int(sent),
        "msgs_per_s": float(rate),
        "avg_ms": float(avg),
        "p50_ms": float(p50),
        "p95_ms": float(p95),
        "p99_ms": float(p99),
    }


def run_perf_test(settings: Settings, topic: str, n: int, size: int, rate: float | None) -> dict:
    require_java()
    classpath = ensure_kafka_jars(settings)
    props = {"bootstrap.servers": settings.bootstrap_servers, **PERF_TEST_PROPS}
    argv = [
        "java",
        "-Xmx512m",
        "-cp",
        f"{classpath}/*",
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(n),
        "--record-size",
        str(size),
        "--throughput",
        str(int(rate) if rate else -1),
        "--producer-props",
        *[f"{k}={v}" for k, v in props.items()],
    ]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as e:
        raise KafkavalError("ProducerPerformance did not finish within 600 s") from e
    return parse_perf_test(proc.stdout + proc.stderr)


def compare_workload(topic: str, n: int, size: int, rate: float | None) -> Workload:
    """The loadgen side's workload: raw payloads, no consumer, the shared partitions."""
    return Workload(
        "compare",
        (topic,),
        (Phase(n, rate),),
        record_size=size,
        payload="raw",
        partitions=PARTITIONS,
        consume=False,
    )


def run_loadgen(
    settings: Settings, topic: str, n: int, size: int, rate: float | None, workers: int = 1
) -> dict:
    """The loadgen producer (``workers`` > 1: that many processes) on the same topic."""
    wl = compare_workload(topic, n, size, rate)
    props = producer_config(settings, LOADGEN_PROPS)
    if workers > 1:
        pool = WorkerPool(settings, wl, workers, props, serve_metrics=False)
        out = pool.run(timeout=600)
        _, sent, acked = merge(out, pool.shares, wl.phases)
        return _figures(sent, acked)
    producer = PacedProducer(wl, props)
    producer.run()
    _, sent, acked = producer.recorder.arrays()
    return {**_figures(sent, acked), "failed": producer.recorder.failed_count}


def _figures(sent: np.ndarray, acked: np.ndarray) -> dict[str, Any]:
    """Records acked, msg/s from first send to last ack, and the p99 send -> ack in ms."""
    ok = acked != UNSET
    span = (acked[ok].max() - sent[sent != UNSET].min()) / 1e6
    svc = summarize_us((acked - sent)[ok])
    return {
        "records": int(ok.sum()),
        "msgs_per_s": float(ok.sum() / span),
        "p99_ms": (svc["p99"] or 0.0) * 1e3,
    }


def run_compare(
    settings: Settings,
    sizes: list[int],
    quick: bool = False,
    messages: int | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Run every case, print the table, write results/bench-compare.json.

    Raises:
        UsageError: a record size too small; KafkavalError: a tool or the broker failed.
    """
    smallest = min_record_size("raw")
    for size in sizes:
        if size < smallest:
            raise UsageError(f"record size {size} B is below the loadgen minimum of {smallest} B")
    topics.preflight(settings, 0, 256 * 2**20, need_prometheus=False)
    topic = settings.topic_prefix + "bench-compare"
    cases = []
    for size in sizes:
        for mode, rate in (("max", None), ("fixed", 1000.0)):
            if mode == "max":
                n = messages or (20_000 if quick else min(500_000, 2**30 // size))
            else:
                n = 3_000 if quick else 30_000
            row: dict[str, Any] = {"record_size": size, "mode": mode, "messages": n}
            kafka_admin.create_topics(settings, [topic], PARTITIONS, 1)
            perf = run_perf_test(settings, topic, n, size, rate)
            kafka_admin.create_topics(settings, [topic], PARTITIONS, 1)  # same empty start
            ours = run_loadgen(settings, topic, n, size, rate, workers)
            kafka_admin.delete_topics(settings, [topic])
            row.update(
                perf_test_msgs_per_s=perf["msgs_per_s"],
                loadgen_msgs_per_s=ours["msgs_per_s"],
                ratio=ours["msgs_per_s"] / perf["msgs_per_s"] if perf["msgs_per_s"] else None,
                perf_test_p99_ms=perf["p99_ms"],
                loadgen_p99_ms=ours["p99_ms"],
                p99_ratio=ours["p99_ms"] / perf["p99_ms"] if perf["p99_ms"] else None,
            )
            cases.append(row)
            print(_row(row), flush=True)
    result = {
        "workers": workers,
        "settings": COMMON_PRODUCER_PROPS,
        "queue_bounds": {
            "perf_test": {"buffer.memory": PERF_TEST_PROPS["buffer.memory"]},
            "loadgen": {
                k: LOADGEN_PROPS[k]
                for k in ("queue.buffering.max.kbytes", "queue.buffering.max.messages")
            },
            "defaults_replaced": DEFAULT_QUEUE_LIMITS,
        },
        "cases": cases,
    }
    path = settings.path("results_dir") / "bench-compare.json"
    write_atomic(path, json.dumps(result, indent=2) + "\n")
    print(f"written: {path}")
    return result


def _row(r: dict[str, Any]) -> str:
    return (
        f"{r['record_size']:>7} B {r['mode']:<5} perf-test {r['perf_test_msgs_per_s']:>10,.0f}"
        f" msg/s p99 {r['perf_test_p99_ms']:>7.1f} ms | loadgen "
        f"{r['loadgen_msgs_per_s']:>10,.0f} msg/s p99 {r['loadgen_p99_ms']:>7.1f} ms | "
        f"ratio {r['ratio'] or 0:.2f}, p99 ratio {r['p99_ratio'] or 0:.2f}"
    )
