"""The checker's final read: a fresh consumer, every partition from offset 0 to its end.

No consumer group and no timeout guessing: the reader assigns every partition
at the beginning, asks each for its high watermark (with read_committed the
end is the last stable offset; without transactions the two are equal) and
reads until its position reaches it. A deadline bounds the whole read and an
unreachable end is an error, never a silent short read; so is any error the
client reports other than the end of a partition. Each partition's log start
offset and end go into the log (``start_offsets``/``end_offsets``): a start
above the run's first offset means records were removed, and the checker
reports them instead of calling them lost or passing over them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from chaos.errors import ChaosError
from chaos.ledger import DeliveryLog
from kafkaval.kafka_client import quiet


def read_log(
    config: dict[str, Any],
    topic: str,
    timeout: float = 60.0,
    consumer_factory: Callable[[dict[str, Any]], Any] = Consumer,
) -> DeliveryLog:
    """Every record of ``topic`` in partition/offset order.

    Args:
        config: librdkafka properties (bootstrap servers, security).
        topic: the topic to read.
        timeout: the whole read's deadline, seconds.
        consumer_factory: builds the client (tests inject).

    Raises:
        ChaosError: the topic is unknown, the client reported an error, or the
            end is not reached in time.
    """
    consumer = consumer_factory(
        quiet(
            {
                **config,
                "group.id": "kafkaval-final-read",  # required; never committed or joined
                "enable.auto.commit": "false",
                "isolation.level": "read_committed",
                "enable.partition.eof": "true",
            }
        )
    )
    deadline = time.monotonic() + timeout
    log = DeliveryLog()
    try:
        try:
            meta = consumer.list_topics(topic, timeout=10)
        except KafkaException as e:
            raise ChaosError(f"final read: cannot list topic {topic}: {e}") from e
        tmeta = meta.topics.get(topic)
        if tmeta is None or tmeta.error is not None or not tmeta.partitions:
            raise ChaosError(f"final read: topic {topic} not found")
        ends: dict[int, int] = {}
        for partition in tmeta.partitions:
            try:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10, cached=False
                )
            except KafkaException as e:
                raise ChaosError(f"final read: no offsets of {topic} [{partition}]: {e}") from e
            log.start_offsets[partition] = low
            log.end_offsets[partition] = ends[partition] = high
        pending = {p for p, high in ends.items() if high > log.start_offsets[p]}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        while pending:
            if time.monotonic() > deadline:
                left = {p: ends[p] for p in pending}
                raise ChaosError(
                    f"final read of {topic} did not reach the end of partitions {left} "
                    f"within {timeout:.0f} s"
                )
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                err = msg.error()
                if err:
                    if err.code() != KafkaError._PARTITION_EOF:
                        raise ChaosError(
                            f"final read of {topic} failed: {err.str()} "
                            f"(partition {msg.partition()}); the read is not trusted"
                        )
                    # EOF at the read_committed end; the high watermark
                    # may sit past it only with open transactions.
                    part, off = msg.partition(), msg.offset()
                    # An EOF event always names its partition and offset.
                    assert part is not None and off is not None
                    if off >= ends.get(part, 0):
                        pending.discard(part)
                    continue
                part, off = msg.partition(), msg.offset()
                if part in pending:
                    assert off is not None  # a consumed record always has one
                    log.add(part, off, msg.key())
                    if off + 1 >= ends[part]:
                        pending.discard(part)
    finally:
        consumer.close()
    return log
