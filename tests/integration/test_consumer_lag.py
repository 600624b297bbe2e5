"""Consumer-group lag from the stack's exporter, scraped by the real Prometheus."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer

from kafkaval.config import Settings
from kafkaval.kafka_admin import create_topics
from kafkaval.prom_client import PromClient
from kafkaval.waiting import wait_until

pytestmark = pytest.mark.integration


def _produce(settings: Settings, topic: str, n: int) -> None:
    producer = Producer({**settings.client_config("producer"), "acks": "all"})
    for i in range(n):
        producer.produce(topic, f"m{i}".encode())
    assert producer.flush(30) == 0


def _consume_all(settings: Settings, topic: str, group: str, n: int) -> Consumer:
    """A member of ``group`` that read and committed ``n`` more messages (still open)."""
    consumer = Consumer(
        {
            **settings.client_config("consumer"),
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": "false",
        }
    )
    consumer.subscribe([topic])
    got = 0
    deadline = time.monotonic() + 60
    while got < n and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            got += 1
    assert got == n, f"read {got} of {n}"
    consumer.commit(asynchronous=False)
    return consumer


def test_lag_rises_when_the_consumer_stops_and_falls_when_it_resumes(
    stack_settings: Settings,
) -> None:
    prom = PromClient(stack_settings.prometheus_url)
    topic = f"{stack_settings.topic_prefix}it-lag-{uuid.uuid4().hex[:8]}"
    group = f"it-lag-{uuid.uuid4().hex[:8]}"
    create_topics(stack_settings, [topic], 1, 1)
    expr = f'kafka_consumergroup_lag{{consumergroup="{group}",topic="{topic}",partition="0"}}'
    seen: list[float] = []

    def lag_is(value: float) -> bool:
        seen[:] = [s.value for s in prom.query(expr)]
        return seen == [value]

    _produce(stack_settings, topic, 100)
    consumer = _consume_all(stack_settings, topic, group, 100)
    try:
        assert wait_until(lambda: lag_is(0), 60, 0.5), f"caught up: {expr} = {seen}"
    finally:
        consumer.close()  # the consumer stops; producers go on
    _produce(stack_settings, topic, 250)
    assert wait_until(lambda: lag_is(250), 60, 0.5), f"stopped: {expr} = {seen}"
    consumer = _consume_all(stack_settings, topic, group, 250)  # it resumes
    try:
        assert wait_until(lambda: lag_is(0), 60, 0.5), f"resumed: {expr} = {seen}"
    finally:
        consumer.close()
    # The end offset is the partition's, the same for every group.
    end = prom.query(f'kafka_topic_partition_current_offset{{topic="{topic}",partition="0"}}')
    assert [s.value for s in end] == [350]
