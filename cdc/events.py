"""Reading Debezium change events back from Kafka.

A fresh consumer (its own throwaway group, nothing committed) reads the
table topics from given start offsets (default: the beginning) and stops
when it has caught up with every partition's high watermark and the caller's
condition holds, or at a deadline. Tombstones (the null value Debezium sends
after a delete) are counted and skipped.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from cdc.errors import CdcError
from kafkaval.config import Settings
from kafkaval.kafka_client import quiet
from loadgen.consumer import take_available

StartOffsets = dict[tuple[str, int], int]


@dataclasses.dataclass(frozen=True)
class ChangeEvent:
    """The parts of one Debezium envelope the checks need."""

    topic: str
    partition: int
    offset: int
    table: str
    pk: int
    op: str  # c, u, d, r (snapshot read)
    version: int | None
    txid: int | None
    source_ts_ms: int  # commit time in the database
    ts_ms: int  # when the connector processed the event
    snapshot: str  # "false", "true", "first", "last", ...
    consumed_at_ms: int

    @property
    def key(self) -> tuple[str, int, str, int | None]:
        return (self.table, self.pk, self.op, self.version)


def parse_event(
    topic: str, partition: int, offset: int, key: bytes | None, value: bytes, consumed_at_ms: int
) -> ChangeEvent:
    """One envelope (payload-only JSON) to a ChangeEvent.

    Raises:
        CdcError: the message is not a Debezium envelope.
    """
    try:
        env = json.loads(value)
        if "payload" in env and "op" not in env:  # converter with schemas.enable=true
            env = env["payload"]
        k = json.loads(key) if key else {}
        k = k.get("payload", k)
        row = env.get("after") if env["op"] != "d" else env.get("before")
        source = env["source"]
        return ChangeEvent(
            topic=topic,
            partition=partition,
            offset=offset,
            table=source.get("table") or topic.rsplit(".", 1)[-1],
            pk=int(k["id"]),
            op=env["op"],
            version=(row or {}).get("version"),
            txid=source.get("txId"),
            source_ts_ms=int(source["ts_ms"]),
            ts_ms=int(env.get("ts_ms") or 0),
            snapshot=str(source.get("snapshot", "false")),
            consumed_at_ms=consumed_at_ms,
        )
    except (ValueError, KeyError, TypeError) as e:
        raise CdcError(
            f"message {topic}[{partition}]@{offset} is not a Debezium envelope ({e!r})"
        ) from e


def end_offsets(settings: Settings, topics: list[str], timeout: float = 10.0) -> StartOffsets:
    """The high watermark of every partition of ``topics`` (missing topics: none)."""
    consumer = Consumer(_conf(settings))
    try:
        md = consumer.list_topics(timeout=timeout)
        out: StartOffsets = {}
        for topic in topics:
            tmd = md.topics.get(topic)
            if tmd is None or tmd.error is not None:
                continue
            for p in tmd.partitions:
                out[(topic, p)] = _high_watermark(consumer, TopicPartition(topic, p), timeout)
        return out
    except KafkaException as e:
        raise CdcError(
            f"cannot read offsets from Kafka at {settings.bootstrap_servers}: {e}"
        ) from e
    finally:
        consumer.close()


# What a partition of a topic created a moment ago answers until its leader is
# known everywhere; librdkafka does not flag these as retriable here.
_NO_LEADER_YET = (
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
)


def _high_watermark(consumer: Consumer, tp: TopicPartition, timeout: float) -> int:
    # A topic created a moment ago may not have a leader yet: retry until timeout.
    deadline = time.monotonic() + timeout
    while True:
        try:
            return int(consumer.get_watermark_offsets(tp, timeout=timeout)[1])
        except KafkaException as e:
            err = e.args[0]
            transient = err.retriable() or err.code() in _NO_LEADER_YET
            if not transient or time.monotonic() >= deadline:
                raise
            time.sleep(0.3)


def _conf(settings: Settings) -> dict[str, object]:
    return quiet(
        {
            **settings.client_config("consumer"),
            "group.id": f"kafkaval-cdc-check-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": "false",
            "auto.offset.reset": "earliest",
            # Topics Connect creates mid-read are found within a second.
            "topic.metadata.refresh.interval.ms": "1000",
        }
    )


def read_events(
    settings: Settings,
    topics: list[str],
    timeout: float,
    start: StartOffsets | None = None,
    done: Callable[[list[ChangeEvent]], bool] = lambda _events: True,
    on_event: Callable[[ChangeEvent], None] | None = None,
    keep: bool = True,
) -> tuple[list[ChangeEvent], int, bool]:
    """Read change events until caught up and ``done(events)``, or ``timeout`` s.

    Args:
        start: first offset per (topic, partition); others from the beginning.
        done: extra stop condition checked once caught up.
        on_event: called for each event (e.g. to count without keeping).
        keep: keep the events in the returned list (False for huge reads).

    Returns:
        (events, tombstones, finished): finished is False when the deadline hit.

    Raises:
        CdcError: Kafka unreachable or a message is not an envelope.
    """
    start = start or {}
    consumer = Consumer(_conf(settings))
    assigned: list[TopicPartition] = []

    # Next offset to read per partition, tracked here: librdkafka reports no
    # position for a partition nothing has been read from yet, and a topic
    # appearing mid-read reassigns every partition, which must not rewind.
    positions: dict[tuple[str, int], int] = {}

    def on_assign(c: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            where = (tp.topic, tp.partition)
            tp.offset = positions.get(where, start.get(where, OFFSET_BEGINNING))
        assigned[:] = partitions
        c.assign(partitions)

    events: list[ChangeEvent] = []
    tombstones = 0
    deadline = time.monotonic() + timeout
    next_check = 0.0
    finished = False
    try:
        consumer.subscribe(topics, on_assign=on_assign)
        while time.monotonic() < deadline:
            batch = take_available(consumer, 2000, 0.5)  # consumed-at stays accurate
            now_ms = int(time.time() * 1000)
            for msg in batch:
                if msg.error():
                    continue  # partition EOF and transient errors: keep reading
                topic, partition, offset = str(msg.topic()), int(msg.partition() or 0), msg.offset()
                offset = int(offset if offset is not None else -1)
                positions[(topic, partition)] = offset + 1
                value = msg.value()
                if value is None:
                    tombstones += 1
                    continue
                ev = parse_event(topic, partition, offset, msg.key(), value, now_ms)
                if keep:
                    events.append(ev)
                if on_event:
                    on_event(ev)
            if not batch and time.monotonic() >= next_check:
                next_check = time.monotonic() + 1.0
                if _caught_up(consumer, assigned, topics, start, positions) and done(events):
                    finished = True
                    break
    except KafkaException as e:
        raise CdcError(f"cannot read change events from {settings.bootstrap_servers}: {e}") from e
    finally:
        consumer.close()
    return events, tombstones, finished


def _caught_up(
    consumer: Consumer,
    assigned: list[TopicPartition],
    topics: list[str],
    start: StartOffsets,
    positions: dict[tuple[str, int], int],
) -> bool:
    if {tp.topic for tp in assigned} != set(topics):
        return False
    for tp in assigned:
        low, high = consumer.get_watermark_offsets(tp, timeout=5.0, cached=False)
        where = (tp.topic, tp.partition)
        pos = max(positions.get(where, start.get(where, 0)), low)
        if pos < high:
            return False
    return True
