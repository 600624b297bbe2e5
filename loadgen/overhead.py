"""Micro-benchmark: what full per-message accounting costs the producer loop.

Both loops send the same pre-built values to librdkafka's mock cluster (no
broker, no network) with the same client settings:

* bare: ``produce()`` + ``poll(0)``, a delivery callback that does nothing,
  the same partitions as the accounted loop;
* accounted: the real PacedProducer path at max rate (three timestamps per
  message, completion-ordered latency arrays, per-topic counters), with the
  LoadgenCollector scraped every 0.5 s from another thread as Prometheus would.

The goal (issue 3) is accounted / bare >= 0.8. Results: a table and
``results/bench-overhead.json``.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from prometheus_client import CollectorRegistry, generate_latest

from kafkaval.files import write_atomic
from kafkaval.kafka_client import partition_count
from kafkaval.pacing import Phase
from loadgen.delivery_order import partition_of
from loadgen.metrics import LoadgenCollector
from loadgen.payloads import build_pool, make_value
from loadgen.producer import PacedProducer
from loadgen.workload import Workload

TOPIC = "kafkaval.overhead"
GOAL = 0.8  # issue 3: full accounting keeps at least 80% of the bare loop's speed
MOCK = {
    "test.mock.num.brokers": "1",
    # The loadgen's own defaults (loadgen.workload): with idempotence the
    # accounted loop attributes reports by their order (loadgen.delivery_order).
    "acks": "all",
    "enable.idempotence": "true",
    "linger.ms": "5",
    "queue.buffering.max.messages": "1000000",
    # Hide the mock cluster's "enabled" notice; warnings still show.
    "log_level": "4",
}


def bare_loop(n: int, size: int) -> float:
    """Messages per second of the loop with no accounting."""
    producer = Producer(MOCK)
    pool = build_pool("videos", size, "raw", 512)
    noop: Any = lambda _e, _m: None  # noqa: E731 - the cheapest possible callback
    produce, poll = producer.produce, producer.poll
    # The same warm-up as the accounted loop's (topic metadata, a connection),
    # outside the timed part in both.
    produce(TOPIC, b"warm-up", b"warm-up")
    producer.flush(30)
    # The partitions chosen up front, as the accounted loop does (it needs
    # them for loadgen.delivery_order): neither loop runs the partitioner.
    parts = partition_count(producer, TOPIC)
    placed = [(e.key, e.tail, partition_of(e.key, parts)) for e in pool]
    t0 = time.perf_counter()
    for i in range(n):
        key, tail, part = placed[i % 512]
        value = make_value(0, i, 0, tail)
        while True:
            try:
                produce(TOPIC, value, key, part, noop)
                break
            except BufferError:
                poll(0.005)
        poll(0)
    producer.flush(60)
    producer.close()  # timed in both loops: the accounted run closes its client too
    return n / (time.perf_counter() - t0)


def accounted_loop(n: int, size: int) -> float:
    """Messages per second of the real producer path with full accounting."""
    wl = Workload("overhead", (TOPIC,), (Phase(n, None),), record_size=size, payload="raw")
    collector = LoadgenCollector()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    producer = PacedProducer(wl, {**MOCK, "statistics.interval.ms": "1000"})
    collector.attach_producer(producer.profile, producer.recorder)
    stop = threading.Event()

    def scrape() -> None:
        while not stop.wait(0.5):
            generate_latest(registry)

    scraper = threading.Thread(target=scrape, daemon=True)
    scraper.start()
    try:
        producer.run()  # warms up first, then sets started_mono; closes the client
        elapsed = time.monotonic() - producer.started_mono
    finally:
        stop.set()
        scraper.join(5)
    return n / elapsed


def run_overhead(
    messages: int = 200_000,
    record_size: int = 1024,
    rounds: int = 10,
    out_path: Path | None = None,
) -> dict:
    """Run both loops ``rounds`` times each, print the table, return the figures.

    The verdict is the median of the per-round ratios (accounted / bare of
    the same round). On a shared host the speed of both loops drifts by tens
    of percent within seconds; the two loops of a round run back to back, so
    their ratio cancels most of that drift, and the order alternates (ABBA)
    so that a trend does not favour whichever loop runs second. The
    interquartile range of the ratios is printed next to it: a wide range
    says the host was too noisy to tell.
    """
    loops = {"bare": bare_loop, "accounted": accounted_loop}
    figures: dict[str, list[float]] = {name: [] for name in loops}
    for r in range(rounds):
        for name in list(loops)[:: 1 if r % 2 == 0 else -1]:
            figures[name].append(loops[name](messages, record_size))
    bare, accounted = figures["bare"], figures["accounted"]
    ratios = [a / b for a, b in zip(accounted, bare, strict=True)]
    ratio = statistics.median(ratios)
    q1, _, q3 = statistics.quantiles(ratios, n=4) if rounds > 1 else (ratio, ratio, ratio)
    print(f"{'loop':<12} {'median msg/s':>12}  all rounds")
    for name, values in figures.items():
        rounds_text = ", ".join(f"{v:,.0f}" for v in values)
        print(f"{name:<12} {statistics.median(values):>12,.0f}  {rounds_text}")
    verdict = "ok" if ratio >= GOAL else f"below the {GOAL} goal"
    print(
        f"ratio full-accounting / no-accounting: {ratio:.2f} ({verdict}), "
        f"median of {rounds} rounds, interquartile range {q1:.2f}-{q3:.2f}"
    )
    result = {
        "messages": messages,
        "record_size": record_size,
        "rounds": rounds,
        "bare_msgs_per_s": bare,
        "accounted_msgs_per_s": accounted,
        "round_ratios": ratios,
        "ratio": ratio,
        "ratio_iqr": [q1, q3],
        "goal": GOAL,
        "passed": ratio >= GOAL,
    }
    if out_path is not None:
        write_atomic(out_path, json.dumps(result, indent=2) + "\n")
        print(f"wrote {out_path}")
    return result
