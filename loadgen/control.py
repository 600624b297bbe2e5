"""The control topic of a distributed run: start barrier and results, on the Kafka under test.

One single-partition topic per run (``<topic_prefix>control.<run_id>``)
carries everything the driver and its workers tell each other, so neither
needs a shared filesystem, an open port on the other, or an agent of ours on
the engine's nodes: the workers need the brokers anyway.

- ``ready`` (worker -> driver): warmed up, waiting for the start.
- ``go`` (driver -> workers): start at wall-clock ``start_at`` (seconds).
- ``stop`` (driver -> workers): stop pacing now, report what was sent.
- ``result`` / ``error`` (worker -> driver): the summary, or one line why not.

Why a barrier rather than a start instant fixed by the driver at submit
time: how long an engine takes to schedule and start N containers is not
known in advance (tens of seconds on a loaded node); a fixed instant either
wastes that or starts some workers late. The ``go`` message carries an
instant a moment ahead, so every worker starts together up to the skew of
the machines' clocks (NTP: milliseconds), not up to how fast each read it.

A message's key is ``kind:sender:part/parts``; a large value (a summary with
its exact samples) is split into parts below the broker's default
``message.max.bytes`` and joined again by the reader.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.kafka_client import close_producer
from loadgen.workload import consumer_config, validate_topic

KINDS = ("ready", "go", "stop", "result", "error")
PART_BYTES = 256 * 1024
SEND_TIMEOUT = 30.0


def control_topic(settings: Settings, run_id: str) -> str:
    """The run's control topic name.

    Raises:
        UsageError: the prefix or run id make an illegal topic name.
    """
    return validate_topic(f"{settings.topic_prefix}control.{run_id}")


class ControlChannel:
    """Send to and read from one run's control topic (from its beginning).

    Args:
        sender: who writes ("driver" or the worker's index), in every key.
        producer_factory, consumer_factory: build the clients (tests inject fakes).

    Raises:
        KafkavalError: a client cannot be created.
    """

    def __init__(
        self,
        settings: Settings,
        topic: str,
        sender: str,
        producer_factory: Callable[[dict[str, Any]], Any] = Producer,
        consumer_factory: Callable[[dict[str, Any]], Any] = Consumer,
    ) -> None:
        self.topic = topic
        self.sender = sender
        self._parts: dict[tuple[str, str], dict[int, bytes]] = {}
        conf = consumer_config(settings, f"kafkaval-control-{sender}")
        try:
            self._producer = producer_factory(
                {**settings.client_config("producer"), "acks": "all", "linger.ms": "0"}
            )
            self._consumer = consumer_factory(conf)
        except KafkaException as e:
            raise KafkavalError(f"cannot create the control-topic clients: {e.args[0]}") from e
        self._consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])

    def send(self, kind: str, body: dict[str, Any]) -> None:
        """Write one message and wait for its acknowledgement.

        Raises:
            KafkavalError: not acknowledged within SEND_TIMEOUT.
        """
        assert kind in KINDS, kind
        data = zlib.compress(json.dumps(body, separators=(",", ":")).encode())
        chunks = [data[i : i + PART_BYTES] for i in range(0, len(data), PART_BYTES)] or [b""]
        failures: list[str] = []

        def on_delivery(err: Any, _msg: Any) -> None:
            if err is not None:
                failures.append(str(err))

        for i, chunk in enumerate(chunks):
            key = f"{kind}:{self.sender}:{i + 1}/{len(chunks)}".encode()
            try:
                self._producer.produce(self.topic, chunk, key, on_delivery=on_delivery)
            except (KafkaException, BufferError) as e:
                raise KafkavalError(f"cannot write to {self.topic}: {e}") from e
        left = self._producer.flush(SEND_TIMEOUT)
        if failures or left:
            why = failures[0] if failures else f"not acknowledged within {SEND_TIMEOUT:.0f} s"
            raise KafkavalError(f"cannot write {kind} to {self.topic}: {why}")

    def poll(self, timeout: float) -> list[tuple[str, str, dict[str, Any]]]:
        """Complete messages that arrived: ``(kind, sender, body)`` in topic order.

        Waits at most ``timeout`` seconds for the first one. Messages that are
        not ours (bad key or value) are skipped: the topic is the run's own,
        but a reader must not crash on it.
        """
        out: list[tuple[str, str, dict[str, Any]]] = []
        msgs = self._consumer.consume(500, timeout)
        for msg in msgs:
            if msg.error() is not None:
                continue  # partition EOF and transient errors: the caller's deadline decides
            try:
                kind, sender, frac = (msg.key() or b"").decode().split(":")
                part, parts = (int(x) for x in frac.split("/"))
            except ValueError:
                continue
            got = self._parts.setdefault((kind, sender), {})
            got[part] = msg.value() or b""
            if len(got) < parts:
                continue
            data = b"".join(got[i] for i in range(1, parts + 1))
            del self._parts[(kind, sender)]
            try:
                body = json.loads(zlib.decompress(data))
            except (zlib.error, ValueError):
                continue
            out.append((kind, sender, body))
        return out

    def close(self) -> None:
        self._consumer.close()
        close_producer(self._producer)
