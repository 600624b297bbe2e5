"""Helpers for the confluent-kafka clients every part of the project makes."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException

from kafkaval.errors import KafkavalError


def close_producer(client: Any) -> None:
    """Destroy a producer now, without waiting for what it still holds.

    Its threads and broker connections go at once, not when the garbage
    collector gets to it (a client whose callbacks refer back to their owner
    sits in a reference cycle), and nothing left in its queue is retried into
    the topic later. What is still queued (only after a failed or timed-out
    flush; the caller has already counted those messages) is purged first:
    ``close()`` alone would flush again, for up to message.timeout.ms.
    """
    if len(client) > 0:
        client.purge()
    client.close()


def partition_count(client: Any, topic: str, timeout: float = 10.0) -> int:
    """How many partitions ``topic`` has, from the client's own metadata request.

    Raises:
        KafkavalError: the metadata could not be read, or the topic has no partitions.
    """
    try:
        meta = client.list_topics(topic, timeout=timeout).topics[topic]
    except KafkaException as e:
        raise KafkavalError(f"cannot read the partitions of {topic}: {e.args[0]}") from e
    if meta.error is not None or not meta.partitions:
        why = meta.error.str() if meta.error is not None else "no partitions"
        raise KafkavalError(f"cannot read the partitions of {topic}: {why}")
    return len(meta.partitions)
