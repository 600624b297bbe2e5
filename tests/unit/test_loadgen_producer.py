"""PacedProducer against librdkafka's in-process mock cluster (no broker needed)."""

from __future__ import annotations

import json
import os
import time

from kafkaval.pacing import Phase
from loadgen.producer import PacedProducer
from loadgen.workload import Workload

MOCK = {"test.mock.num.brokers": "1", "acks": "1", "log_level": "4"}


def _native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _workload(n: int) -> Workload:
    return Workload("unit", ("kafkaval.unit",), (Phase(n, None),), record_size=256, payload="raw")


def test_run_records_every_message_and_close_ends_the_client_threads() -> None:
    before = _native_threads()
    producer = PacedProducer(_workload(3000), dict(MOCK))
    assert _native_threads() > before  # librdkafka's own threads
    producer.run()
    rec = producer.recorder
    assert (rec.sent_count, rec.acked_count, rec.failed_count) == (3000, 3000, 0)
    producer.close()
    # The threads are gone now, not when the garbage collector gets to the
    # reference cycle through the bound callbacks.
    assert _native_threads() == before
    producer.close()  # twice is harmless


def test_close_does_not_wait_for_undeliverable_messages() -> None:
    config = {"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": "60000", "log_level": "0"}
    producer = PacedProducer(_workload(1), config)
    producer.client.produce("kafkaval.unit", b"never delivered")
    t0 = time.monotonic()
    producer.close()
    assert time.monotonic() - t0 < 5  # close() alone would flush for the 60 s timeout


def test_overhead_benchmark_writes_every_round(tmp_path, capsys) -> None:
    from loadgen.overhead import run_overhead

    out = tmp_path / "bench-overhead.json"
    result = run_overhead(messages=2000, record_size=256, rounds=3, out_path=out)
    assert json.loads(out.read_text()) == result
    assert len(result["bare_msgs_per_s"]) == len(result["accounted_msgs_per_s"]) == 3
    assert result["ratio"] == sorted(result["round_ratios"])[1]  # the median round
    assert result["passed"] == (result["ratio"] >= result["goal"])
    assert "median of 3 rounds" in capsys.readouterr().out


def test_a_producer_warmed_up_before_the_run_does_not_warm_up_again() -> None:
    from confluent_kafka import Producer

    from loadgen.producer import WARM_UP

    warm_ups: list[str] = []

    class Counting(Producer):
        def produce(self, topic, value=None, *args, **kwargs):  # type: ignore[no-untyped-def]
            if value == WARM_UP:
                warm_ups.append(topic)
            return super().produce(topic, value, *args, **kwargs)

    producer = PacedProducer(_workload(100), dict(MOCK), producer_factory=Counting)
    producer.warm_up()  # as a worker does before the start barrier
    producer.run()
    assert warm_ups == ["kafkaval.unit"]
    assert producer.recorder.acked_count == 100
