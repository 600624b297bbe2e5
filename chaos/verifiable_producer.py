"""A producer whose every send ends in its ledger: acked, failed or indeterminate.

Each message's key is ``<producer_id>:<seq>`` and its value carries the send
wall-clock time (for end-to-end latency elsewhere). Outcomes come from the
delivery callback (confluent-kafka-python ``verifiable_producer.py`` habit):
``poll(0)`` in the loop, retry on ``BufferError``, ``flush`` at the end; a
send with no report after the final flush is indeterminate.

The client's own log lines of WARNING and above are kept (``client_warnings``)
and the time of the last ack (``last_ack_at``), so that a scenario can tell a
client that stopped getting acks after a fault was undone (a client stall)
from a broker that lost or refused messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from chaos.client_log import PRODUCER_DEBUG_CONTEXTS, client_logging
from chaos.errors import ChaosError
from chaos.ledger import ProducerLedger, message_key
from kafkaval.kafka_client import close_producer
from kafkaval.pacing import Phase, paced

# Errors after which the message may or may not be in the log: the broker may
# have appended it before the reply was lost.
INDETERMINATE_ERRORS = {
    KafkaError._MSG_TIMED_OUT,
    KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    # Purged when the client is closed after the final flush: a purged
    # in-flight request may still have been appended.
    KafkaError._PURGE_QUEUE,
    KafkaError._PURGE_INFLIGHT,
}


class VerifiableProducer:
    """Produces numbered messages at a fixed rate into one topic, recording outcomes.

    Args:
        producer_id: unique id of this producer (no ':').
        topic: where to produce.
        config: librdkafka properties (bootstrap, acks, idempotence...), passed unchanged.
        on_outcome: called with "acked"/"failed"/"indeterminate" per report (metrics).
        on_ack_latency: called with the seconds from send to an ack (metrics).
        producer_factory: builds the client (tests inject).
        fail_every: the deliberately unsafe mode of the checker's live self-test:
            every N-th ack is recorded as a failure, as a client that reports
            failed for a message the broker appended (0: off).
    """

    def __init__(
        self,
        producer_id: str,
        topic: str,
        config: dict[str, Any],
        on_outcome: Callable[[str], None] = lambda _outcome: None,
        producer_factory: Callable[[dict[str, Any]], Any] = Producer,
        on_ack_latency: Callable[[float], None] = lambda _seconds: None,
        fail_every: int = 0,
    ) -> None:
        self._fail_every = fail_every
        self.ledger = ProducerLedger(producer_id)
        self.topic = topic
        self._on_outcome = on_outcome
        self._on_ack_latency = on_ack_latency
        self.client_warnings: list[str] = []
        self.last_ack_at: float | None = None  # time.monotonic() of the last ack
        # librdkafka's lines stay off the console and are kept for the
        # scenario's diagnosis.
        client_log = client_logging(
            f"kafkaval.chaos.producer.{producer_id}",
            self.client_warnings.append,
            config.get("debug"),
            PRODUCER_DEBUG_CONTEXTS,
        )
        try:
            self._producer = producer_factory({**config, **client_log})
        except KafkaException as e:
            raise ChaosError(f"cannot create producer {producer_id}: {e}") from e
        # With acks=0 the broker never answers: an ack's offset is the client's
        # guess, not where the log put the message, so it is recorded as unknown.
        acks = str(config.get("acks", config.get("request.required.acks", "all")))
        self._offsets_known = acks != "0"
        self.running = threading.Event()
        self.running.set()
        self.error: BaseException | None = None

    def _report(self, seq: int) -> Callable[[Any, Any], None]:
        sent = time.monotonic()

        def on_delivery(err: KafkaError | None, msg: Any) -> None:
            if err is None and self._fail_every and seq % self._fail_every == 0:
                self.ledger.failed(seq)  # the unsafe mode: a success reported as a failure
                self._on_outcome("failed")
            elif err is None:
                self.last_ack_at = time.monotonic()
                # Ack latency (send -> delivery report): the delivery chart shows
                # how a fault stretches it while nothing is lost.
                self._on_ack_latency(self.last_ack_at - sent)
                # The checker finds messages by id and compares offsets only
                # where they are known (-1: unknown).
                partition, offset = msg.partition(), msg.offset()
                if offset is None or not self._offsets_known:
                    offset = -1
                self.ledger.acked(seq, -1 if partition is None else partition, offset)
                self._on_outcome("acked")
            elif err.code() in INDETERMINATE_ERRORS:
                self.ledger.indeterminate(seq)
                self._on_outcome("indeterminate")
            else:
                self.ledger.failed(seq)
                self._on_outcome("failed")

        return on_delivery

    def send_one(self) -> None:
        seq = self.ledger.next_seq()
        key = message_key(self.ledger.producer_id, seq)
        value = f"{time.time():.6f}".encode()
        while True:
            try:
                self._producer.produce(self.topic, value, key, on_delivery=self._report(seq))
                break
            except BufferError:
                self._producer.poll(0.05)  # local queue full: wait for reports
        self._producer.poll(0)

    def run(
        self,
        rate: float,
        max_messages: int,
        max_seconds: float,
        flush_timeout: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> ProducerLedger:
        """Send at ``rate`` msg/s until ``max_messages``, ``max_seconds`` or ``stop()``.

        Both bounds always apply: sends follow the intended-time schedule of
        `kafkaval.pacing`, delivery reports are served while waiting (``poll``,
        at most 0.1 s at a time so that ``stop()`` is seen). Returns the
        closed ledger.
        """
        schedule = paced(
            [Phase(max_messages, rate)],
            clock,
            wait=lambda seconds: self._producer.poll(min(seconds, 0.1)),
            running=self.running.is_set,
            deadline=clock() + max_seconds,
        )
        try:
            for _ in schedule:
                self.send_one()
            self._producer.flush(flush_timeout)
        except BaseException as e:  # recorded for the runner thread's owner
            self.error = e
            raise
        finally:
            self.ledger.close()
            # What is unreported now stays indeterminate: it must not reach the
            # topic later, after the final read.
            close_producer(self._producer)
        return self.ledger

    def stop(self) -> None:
        """Ask ``run`` to stop after the current send (safe from any thread)."""
        self.running.clear()

    def run_in_thread(self, rate: float, max_messages: int, max_seconds: float) -> threading.Thread:
        def target() -> None:
            try:
                self.run(rate, max_messages, max_seconds)
            except BaseException:  # noqa: BLE001 - kept in self.error for the caller
                pass

        thread = threading.Thread(target=target, name=f"producer-{self.ledger.producer_id}")
        thread.start()
        return thread
