"""kafkaval.kafka_admin.create_topics returns only once each leader serves its partitions.

The admin client is faked at the boundary: the real path is exercised by every
integration test that creates a topic.
"""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from kafkaval import kafka_admin
from kafkaval.config import Settings
from kafkaval.errors import KafkavalError


def _done(value: Any = None, error: KafkaError | None = None) -> Future:
    fut: Future = Future()
    if error is None:
        fut.set_result(value)
    else:
        fut.set_exception(KafkaException(error))
    return fut


class _Admin:
    """Created at once, led at once in metadata; the leader serves after ``not_served`` asks."""

    def __init__(self, not_served: int) -> None:
        self.not_served = not_served
        self.asks = 0
        self.created: list[str] = []

    def create_topics(self, new: list, **_kw: object) -> dict:
        self.created += [t.topic for t in new]
        return {t.topic: _done() for t in new}

    def list_topics(self, timeout: float) -> Any:
        parts = {p: SimpleNamespace(leader=1) for p in range(2)}
        led = SimpleNamespace(error=None, partitions=parts)
        return SimpleNamespace(topics={t: led for t in self.created})

    def list_offsets(self, wanted: dict, **_kw: object) -> dict:
        self.asks += 1
        if self.asks <= self.not_served:
            not_yet = KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION)
            return {tp: _done(error=not_yet) for tp in wanted}
        return {tp: _done(SimpleNamespace(offset=0)) for tp in wanted}


def test_returns_once_the_leader_serves_the_new_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = _Admin(not_served=2)  # led in metadata, not yet created on the broker
    monkeypatch.setattr(kafka_admin, "admin_client", lambda _c: admin)
    kafka_admin.create_topics(Settings(), ["t"], 2, 1, timeout=5)
    assert admin.asks == 3


def test_a_leader_that_never_serves_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_admin, "admin_client", lambda _c: _Admin(not_served=10**6))
    with pytest.raises(KafkavalError, match=r"^topics t: their leaders do not serve them after"):
        kafka_admin.create_topics(Settings(), ["t"], 2, 1, timeout=0.5)
