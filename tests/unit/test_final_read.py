"""The final read on a fake client: log start and end kept, any error fails the read."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError

from chaos.errors import ChaosError
from chaos.final_read import read_log
from chaos.ledger import message_key


class FakeMessage:
    def __init__(self, partition: int, offset: int, key: bytes | None, error: Any = None):
        self._p, self._o, self._k, self._e = partition, offset, key, error

    def error(self) -> Any:
        return self._e

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o

    def key(self) -> bytes | None:
        return self._k


class FakeConsumer:
    """One topic with these (low, high) watermarks per partition; ``batches`` in turn."""

    def __init__(self, watermarks: dict[int, tuple[int, int]], batches: list[list[Any]]) -> None:
        self.watermarks = watermarks
        self.batches = batches
        self.closed = False

    def list_topics(self, topic: str, timeout: float) -> Any:
        meta = SimpleNamespace(error=None, partitions={p: None for p in self.watermarks})
        return SimpleNamespace(topics={topic: meta})

    def get_watermark_offsets(self, tp: Any, timeout: float, cached: bool) -> tuple[int, int]:
        return self.watermarks[tp.partition]

    def assign(self, partitions: list[Any]) -> None:
        self.assigned = [tp.partition for tp in partitions]

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        return self.batches.pop(0) if self.batches else []

    def close(self) -> None:
        self.closed = True


def _eof(partition: int, offset: int) -> FakeMessage:
    return FakeMessage(partition, offset, None, KafkaError(KafkaError._PARTITION_EOF))


def test_log_start_and_end_are_kept() -> None:
    records = [FakeMessage(0, o, message_key("p", o)) for o in (3, 4)]
    fake = FakeConsumer({0: (3, 5), 1: (0, 0)}, [records])
    log = read_log({}, "t", timeout=5, consumer_factory=lambda _c: fake)
    assert list(log) == [(0, 3, "p", 3), (0, 4, "p", 4)]
    assert log.start_offsets == {0: 3, 1: 0} and log.end_offsets == {0: 5, 1: 0}
    assert fake.assigned == [0] and fake.closed


def test_any_error_but_end_of_partition_fails_the_read() -> None:
    broken = FakeMessage(0, -1, None, KafkaError(KafkaError._TRANSPORT, "broker down"))
    fake = FakeConsumer({0: (0, 2)}, [[FakeMessage(0, 0, b"p:0"), _eof(0, 1), broken]])
    with pytest.raises(ChaosError, match="final read of t failed: broker down"):
        read_log({}, "t", timeout=5, consumer_factory=lambda _c: fake)
    assert fake.closed


def test_end_of_partition_at_the_end_finishes_the_read() -> None:
    fake = FakeConsumer({0: (0, 1)}, [[_eof(0, 0)], [FakeMessage(0, 0, b"p:0"), _eof(0, 1)]])
    assert list(read_log({}, "t", timeout=5, consumer_factory=lambda _c: fake)) == [(0, 0, "p", 0)]
