"""The one Kafka admin helper: an admin client, topics created and deleted, offsets read."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.kafka_client import quiet
from kafkaval.waiting import wait_until

ADMIN_TIMEOUT = 15.0

_RETRIABLE_CREATE = (
    KafkaError.TOPIC_ALREADY_EXISTS,
    KafkaError._DESTROY_BROKER,
    KafkaError._TRANSPORT,
)


def admin_client(client_config: Mapping[str, Any]) -> AdminClient:
    """An admin client for ``client_config`` whose librdkafka log lines are silenced."""
    return AdminClient(quiet(client_config))


def create_topics(
    settings: Settings,
    topics: Iterable[str],
    partitions: int,
    rf: int,
    config: Mapping[str, str] | None = None,
    timeout: float = ADMIN_TIMEOUT,
) -> None:
    """Create the topics (an existing one is deleted first, so runs start empty).

    Returns once every partition's leader serves it (answers ListOffsets), so
    the first sends neither wait for a leader nor race the partition's creation.

    Args:
        config: topic configuration (e.g. ``min.insync.replicas``); broker defaults if None.
        timeout: seconds for each admin request; creation is retried for twice that,
            the leaders (and their serving the partitions) are waited for this long.

    Raises:
        KafkavalError: the broker refused or did not answer in time.
    """
    topics = list(topics)
    delete_topics(settings, topics, timeout)
    admin = admin_client(settings.client_config())
    deadline = time.monotonic() + timeout * 2
    while True:
        futures = admin.create_topics(
            [
                NewTopic(
                    t, num_partitions=partitions, replication_factor=rf, config=dict(config or {})
                )
                for t in topics
            ],
            operation_timeout=timeout,
            request_timeout=timeout,
        )
        retry = []
        for topic, fut in futures.items():
            try:
                fut.result(timeout=timeout)
            except concurrent.futures.TimeoutError:
                raise KafkavalError(
                    f"cannot create topic {topic}: no answer within {timeout:.0f} s"
                ) from None
            except KafkaException as e:
                err = e.args[0]
                # A topic deleted a moment ago may still be in deletion; and
                # librdkafka (>= 2.10) drops its bootstrap connections once it
                # has learned the brokers, failing a request in flight on one
                # with _DESTROY_BROKER. Both are worth another try.
                if err.code() in _RETRIABLE_CREATE and time.monotonic() < deadline:
                    retry.append(topic)
                    continue
                raise KafkavalError(f"cannot create topic {topic}: {err.str()}") from e
        if not retry:
            break
        topics = retry
        time.sleep(0.5)

    # Metadata reaches every broker a little after creation, and a KRaft broker
    # publishes a new partition's leader in its metadata before it has
    # created the partition: a produce in between fails with
    # NOT_LEADER_OR_FOLLOWER. An idempotent producer whose next request got in
    # first then loses the earlier one's records (KAFKA-15591); seen here as
    # acked records missing from the start of a fresh partition on a loaded
    # host. A ListOffsets answered for every partition proves each has a
    # leader, and that the leader has the partition.
    def served() -> bool:
        wanted = {
            TopicPartition(t, p): OffsetSpec.latest() for t in topics for p in range(partitions)
        }
        try:
            for fut in admin.list_offsets(wanted, request_timeout=5).values():
                fut.result(timeout=10)
        except (KafkaException, concurrent.futures.TimeoutError):
            return False
        return True

    if not wait_until(served, timeout, 0.2):
        raise KafkavalError(
            f"topics {', '.join(topics)}: their leaders do not serve them after {timeout:.0f} s"
        )


def delete_topics(
    settings: Settings, topics: Iterable[str], timeout: float = ADMIN_TIMEOUT
) -> None:
    """Delete the topics if they exist; missing ones are fine.

    Raises:
        KafkavalError: the topics could not be listed, or the broker refused the deletion.
    """
    admin = admin_client(settings.client_config())
    try:
        existing = set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as e:
        raise KafkavalError(f"cannot list topics: {e.args[0]}") from e
    doomed = [t for t in topics if t in existing]
    if not doomed:
        return
    futures = admin.delete_topics(doomed, operation_timeout=timeout, request_timeout=timeout)
    for topic, fut in futures.items():
        try:
            fut.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise KafkavalError(
                f"cannot delete topic {topic}: no answer within {timeout:.0f} s"
            ) from None
        except KafkaException as e:
            if e.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise KafkavalError(f"cannot delete topic {topic}: {e.args[0].str()}") from e


def partition_leader(settings: Settings, topic: str, partition: int = 0) -> int | None:
    """The node id leading ``partition`` of ``topic``; None if unknown (no answer, no
    such topic or partition). A partition without a leader gives -1."""
    try:
        md = admin_client(settings.client_config()).list_topics(topic, timeout=10)
    except KafkaException:
        return None
    t = md.topics.get(topic)
    if t is None or partition not in t.partitions:
        return None
    return int(t.partitions[partition].leader)


def end_offsets(settings: Settings, topic: str, partitions: int) -> dict[int, int]:
    """The end (high watermark) of partitions 0..``partitions``-1 of ``topic``.

    Raises:
        KafkaException: the broker did not answer.
    """
    consumer = Consumer(quiet({**settings.client_config(), "group.id": "kafkaval-ends"}))
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        consumer.close()


def committed(settings: Settings, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The offsets ``group`` committed on partitions 0..``partitions``-1 of ``topic``
    (a negative offset where it committed none).

    Raises:
        KafkaException: the group coordinator did not answer.
    """
    consumer = Consumer(quiet({**settings.client_config(), "group.id": group}))
    try:
        parts = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], 10)
        return {tp.partition: tp.offset for tp in parts}
    finally:
        consumer.close()
