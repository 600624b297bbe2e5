"""Delivery reports attributed by their order (loadgen.delivery_order).

The rules on hand-made reports, then the real client: librdkafka's mock
cluster with idempotence, every report checked against its own sequence number.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from confluent_kafka import Producer

from kafkaval.errors import KafkavalError
from kafkaval.pacing import Phase
from loadgen import delivery_order
from loadgen.delivery_order import PartitionOrder, ordered_config, partition_of
from loadgen.payloads import make_value
from loadgen.producer import PacedProducer
from loadgen.recorder import UNSET
from loadgen.workload import Workload

MOCK = {"test.mock.num.brokers": "1", "log_level": "4"}
ORDERED = {**MOCK, "acks": "all", "enable.idempotence": "true"}


class _Msg:
    def __init__(self, seq: int) -> None:
        self._value = make_value(0, seq, 0, b"}")

    def value(self) -> bytes:
        return self._value


def _order(failed: list[tuple[object, int]]) -> PartitionOrder:
    # Cycle of 4 positions: 0 and 2 go to stream 0, 1 and 3 to stream 1.
    # Stream 0 holds messages 0, 2, 4, 6, ... (ranks 0, 1, 2, 3, ...).
    return PartitionOrder([0, 1, 0, 1], ["t[0]", "t[1]"], lambda e, s: failed.append((e, s)))


def _acked(order: PartitionOrder, n: int = 12) -> list[int]:
    acked = np.full(n, UNSET, dtype=np.int64)
    order.resolve(acked)
    return [i for i in range(n) if acked[i] != UNSET]


def test_the_kth_report_of_a_partition_is_for_its_kth_message() -> None:
    order = _order([])
    plain0, _ = order.callbacks(0)
    plain1, _ = order.callbacks(1)
    for _ in range(3):
        plain0(None, None)
    plain1(None, None)
    assert _acked(order) == [0, 1, 2, 4]
    plain0(None, None)  # resolved incrementally: only the new report
    assert _acked(order) == [6]


def test_a_failed_message_is_taken_out_of_the_order() -> None:
    failed: list[tuple[object, int]] = []
    order = _order(failed)
    plain0, checking0 = order.callbacks(0)
    plain0("timed out", _Msg(2))  # queued message 2 timed out before 0 was acked
    plain0(None, None)
    checking0(None, _Msg(4))  # the second success is for 4: 2 is skipped
    plain0(None, None)
    assert failed == [("timed out", 2)]
    assert _acked(order) == [0, 4, 6]
    assert order.violation is None


def test_failures_out_of_send_order_among_themselves_are_fine() -> None:
    order = _order([])
    plain0, checking0 = order.callbacks(0)
    plain0("e", _Msg(6))
    plain0("e", _Msg(2))
    checking0(None, _Msg(0))
    checking0(None, _Msg(4))
    checking0(None, _Msg(8))
    assert order.violation is None
    assert _acked(order) == [0, 4, 8]


def test_reports_out_of_order_are_a_violation() -> None:
    order = _order([])
    _, checking0 = order.callbacks(0)
    checking0(None, _Msg(2))  # the first report of stream 0 must be for 0
    assert order.violation is not None and "t[0]" in order.violation
    assert "message 2 reported where 0 was due" in order.violation


def test_a_failure_after_a_later_success_is_a_violation() -> None:
    order = _order([])
    plain0, _ = order.callbacks(0)
    plain0(None, None)
    plain0(None, None)  # attributed to 0 and 2
    plain0("e", _Msg(0))
    assert order.violation is not None and "after a later message's success" in order.violation


def test_a_failure_of_the_message_a_success_was_given_to_is_a_violation() -> None:
    order = PartitionOrder([0], ["t[0]"], lambda e, s: None)
    plain, _ = order.callbacks(0)
    plain(None, None)  # given to message 0 ...
    assert _acked(order, 2) == [0]
    plain("e", _Msg(0))  # ... which then fails: that success was for 1
    assert order.violation is not None


def test_every_partition_has_checked_positions() -> None:
    producer = PacedProducer(_workload(10, ("kafkaval.c1", "kafkaval.c2")), dict(ORDERED))
    producer.warm_up()
    order = producer.recorder.order
    assert order is not None
    checked = {
        order.rank_of(c)[0]
        for c, entry in enumerate(producer.cycle)
        if entry[4].__name__ == "checking"
    }
    assert checked == set(range(len(order.names)))
    producer.close()


@pytest.mark.parametrize(
    ("config", "ordered"),
    [
        ({"enable.idempotence": "true"}, True),
        ({"enable.idempotence": True}, True),
        ({"enable.idempotence": "false"}, False),
        ({}, False),
        ({"enable.idempotence": "true", "partitioner": "murmur2_random"}, False),
        ({"enable.idempotence": "true", "partitioner": "consistent_random"}, True),
    ],
)
def test_only_idempotence_with_the_default_partitioner_orders_reports(config, ordered) -> None:
    assert ordered_config(config) is ordered


def test_partition_of_is_librdkafkas_default_partitioner() -> None:
    client = Producer(ORDERED)
    client.produce("kafkaval.partitioner", b"w", b"w")
    client.flush(10)
    n = len(
        client.list_topics("kafkaval.partitioner", timeout=10)
        .topics["kafkaval.partitioner"]
        .partitions
    )
    assert n > 1
    same: list[bool] = []
    for k in range(500):
        key = f"{k}".encode()
        client.produce(
            "kafkaval.partitioner",
            b"v",
            key,
            on_delivery=lambda _e, m, key=key: same.append(m.partition() == partition_of(key, n)),
        )
    client.flush(10)
    client.close()
    assert len(same) == 500 and all(same)
    assert partition_of(b"12", 4) == zlib.crc32(b"12") % 4


def _workload(n: int, topics: tuple[str, ...] = ("kafkaval.order",)) -> Workload:
    return Workload("unit", topics, (Phase(n, None),), record_size=256, payload="raw")


def test_every_report_of_a_real_run_is_where_the_order_says(monkeypatch) -> None:
    monkeypatch.setattr(delivery_order, "CHECK_EVERY", 1)  # check them all
    producer = PacedProducer(_workload(30_000, ("kafkaval.o1", "kafkaval.o2")), dict(ORDERED))
    producer.run()
    rec = producer.recorder
    assert rec.order is not None and rec.order.violation is None
    assert len(rec.order.names) > 2  # several partitions per topic
    assert (rec.sent_count, rec.acked_count, rec.failed_count) == (30_000, 30_000, 0)
    _, sent, acked = rec.arrays()
    assert (acked != UNSET).all() and (acked >= sent).all()


def test_without_idempotence_every_report_is_read() -> None:
    producer = PacedProducer(_workload(2000), {**MOCK, "acks": "1"})
    producer.run()
    assert producer.recorder.order is None
    assert producer.recorder.acked_count == 2000


def test_a_violation_fails_the_run() -> None:
    producer = PacedProducer(_workload(100), dict(ORDERED))
    producer.warm_up()
    assert producer.recorder.order is not None
    producer.recorder.order.violation = "delivery reports of x came out of send order"
    with pytest.raises(KafkavalError, match="out of send order"):
        producer.run()
