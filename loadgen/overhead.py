"""Micro-benchmark: what full per-message accounting costs the producer loop.

Both loops send the same pre-built values to librdkafka's mock cluster (no
broker, no network) with the same client settings:

* bare: ``produce()`` + ``poll(0)``, a delivery callback that does nothing;
* accounted: the real PacedProducer path at max rate (three timestamps per
  message, completion-ordered latency arrays, per-topic counters), with the
  LoadgenCollector scraped every 0.5 s from another thread as Prometheus would.

The goal (issue 3) is accounted / bare >= 0.8.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from confluent_kafka import Producer
from prometheus_client import CollectorRegistry, generate_latest

from loadgen.metrics import LoadgenCollector
from loadgen.pacing import Phase
from loadgen.payloads import build_pool, make_value
from loadgen.producer import PacedProducer
from loadgen.workload import Workload

TOPIC = "kafkaval.overhead"
MOCK = {
    "test.mock.num.brokers": "1",
    # Local acks only: the mock cluster is about the client's own cost.
    "acks": "1",
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
    t0 = time.perf_counter()
    for i in range(n):
        e = pool[i % 512]
        value = make_value(0, i, 0, e.tail)
        while True:
            try:
                produce(TOPIC, value, e.key, on_delivery=noop)
                break
            except BufferError:
                poll(0.005)
        poll(0)
    producer.flush(60)
    return n / (time.perf_counter() - t0)


def accounted_loop(n: int, size: int) -> float:
    """Messages per second of the real producer path with full accounting."""
    wl = Workload("overhead", (TOPIC,), (Phase(n, None),), record_size=size, payload="raw")
    collector = LoadgenCollector()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    producer = PacedProducer(wl, {**MOCK, "statistics.interval.ms": "1000"})
    collector.attach_producer(producer)
    stop = threading.Event()

    def scrape() -> None:
        while not stop.wait(0.5):
            generate_latest(registry)

    scraper = threading.Thread(target=scrape, daemon=True)
    scraper.start()
    producer.warm_up()
    t0 = time.perf_counter()
    try:
        producer.run()
    finally:
        stop.set()
        scraper.join(5)
    return n / (time.perf_counter() - t0)


def run_overhead(messages: int = 200_000, record_size: int = 1024, rounds: int = 5) -> dict:
    """Alternate the two loops ``rounds`` times, print the table, return the figures.

    The verdict uses the best round of each loop (the least disturbed by the
    rest of a shared machine); the median of the per-round ratios is printed
    next to it as a check that one lucky round did not decide it.
    """
    bare, accounted = [], []
    for _ in range(rounds):
        bare.append(bare_loop(messages, record_size))
        accounted.append(accounted_loop(messages, record_size))
    best_bare, best_acc = max(bare), max(accounted)
    ratio = best_acc / best_bare
    paired = statistics.median(a / b for a, b in zip(accounted, bare, strict=True))
    print(f"{'loop':<12} {'best msg/s':>12}  all rounds")
    print(f"{'bare':<12} {best_bare:>12,.0f}  " + ", ".join(f"{r:,.0f}" for r in bare))
    print(f"{'accounted':<12} {best_acc:>12,.0f}  " + ", ".join(f"{r:,.0f}" for r in accounted))
    verdict = "ok" if ratio >= 0.8 else "below the 0.8 goal"
    print(
        f"ratio full-accounting / no-accounting: {ratio:.2f} ({verdict}); "
        f"median of the {rounds} per-round ratios {paired:.2f}"
    )
    return {
        "bare_msgs_per_s": best_bare,
        "accounted_msgs_per_s": best_acc,
        "ratio": ratio,
        "median_round_ratio": paired,
    }
