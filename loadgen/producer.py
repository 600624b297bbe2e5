"""The paced producer: sends a Workload and records every message.

Delivery goes through callbacks (counted in ``_delivery_callback``), ``poll`` serves
them while the loop waits for the next due time, a full local queue
(``BufferError``) is polled and retried (the wait shows up as send delay),
and ``flush`` ends the run within a deadline. A stop request only clears the
running flag (loadgen.suite installs the signal handler).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaException, Producer

from kafkaval.errors import KafkavalError
from loadgen.pacing import Phase, paced
from loadgen.payloads import SEQ_SLICE, TABLES, build_pool, make_value
from loadgen.recorder import ProducerRecorder
from loadgen.workload import Workload

POOL_ENTRIES = 512
WARM_UP = b"kafkaval warm-up"
# Flush waits this long past message.timeout.ms before giving up on the client.
FLUSH_GRACE_S = 10.0

_LOG = logging.getLogger("kafkaval.loadgen.producer")


class PacedProducer:
    """Produces ``workload`` (messages ``seq_offset ..`` of it) and records them.

    Args:
        workload: what to send.
        config: librdkafka producer properties (loadgen.workload.producer_config).
        worker: index carried in each message (0..999).
        phases: this producer's share of the phases (defaults to the workload's).
        running: cleared by a signal to stop early.
        clock: monotonic seconds; wall_us: wall-clock µs for message timestamps.
        producer_factory: builds the client (tests inject a fake).
    """

    def __init__(
        self,
        workload: Workload,
        config: dict[str, str],
        worker: int = 0,
        phases: tuple[Phase, ...] | None = None,
        running: threading.Event | None = None,
        on_phase: Callable[[Phase], None] = lambda _p: None,
        clock: Callable[[], float] = time.monotonic,
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        producer_factory: Callable[[dict[str, Any]], Any] = Producer,
    ) -> None:
        self.workload = workload
        self.profile = workload.name
        self.worker = worker
        self.phases = phases or workload.phases
        self.n = sum(p.count for p in self.phases)
        self.recorder = ProducerRecorder(self.n)
        self.topic_counts: dict[str, list[int]] = {t: [0, 0, 0] for t in workload.topics}
        self.stats: dict[str, Any] | None = None
        self.errors: dict[str, int] = {}
        self.running = running or _set_event()
        self.on_phase = on_phase
        self.clock = clock
        self.wall_us = wall_us
        self.started_mono = 0.0
        self.last_send_mono = 0.0
        self.last_ack_us = 0  # monotonic µs of the latest report; seconds on demand
        self.first_intended = 0.0
        tables = TABLES[: len(workload.topics)] if len(workload.topics) <= 3 else TABLES
        self.pools = [
            build_pool(
                tables[i % len(tables)],
                workload.record_size,
                workload.payload,
                POOL_ENTRIES,
                workload.key_space,
                seed=worker,
            )
            for i in range(len(workload.topics))
        ]
        conf: dict[str, Any] = {**config, "stats_cb": self._on_stats, "logger": _LOG}
        if "error_cb" not in conf:
            conf["error_cb"] = self._on_error
        try:
            self.client = producer_factory(conf)
        except KafkaException as e:
            raise KafkavalError(f"cannot create the Kafka producer: {e.args[0]}") from e
        self.message_timeout_s = float(config.get("message.timeout.ms", 300000)) / 1000

    def _on_stats(self, text: str) -> None:
        try:
            self.stats = json.loads(text)
        except ValueError:  # best effort: a torn statistics line only costs one gauge update
            pass

    def _on_error(self, err: Any) -> None:
        name = err.name() if hasattr(err, "name") else str(err)
        self.errors[name] = self.errors.get(name, 0) + 1

    @property
    def last_ack_mono(self) -> float:
        """Monotonic seconds of the latest delivery report (drain time, worker results)."""
        return self.last_ack_us / 1e6

    def _delivery_callback(self) -> Callable[[Any, Any], None]:
        """The per-message delivery report handler, with its state bound locally.

        It runs once per message inside ``poll``: the recorder's arrays and
        the per-topic counters are looked up once here, not on every report
        (attribute lookups and method calls are most of its cost in Python).
        The topic comes from the sequence number (message i goes to topic
        i % n), saving a ``msg.topic()`` string per report.
        """
        rec = self.recorder
        acked_a, sent_a, intended_a = rec.acked, rec.sent, rec.intended
        service_append, response_append = rec.service_done.append, rec.response_done.append
        counts = [self.topic_counts[t] for t in self.workload.topics]
        ntopics = len(counts)
        clock = self.clock

        def on_delivery(err: Any, msg: Any) -> None:
            now_us = int(clock() * 1e6)
            seq = int(msg.value()[SEQ_SLICE])
            if err is None:
                acked_a[seq] = now_us
                service_append(now_us - sent_a[seq])
                response_append(now_us - intended_a[seq])
                rec.acked_count += 1
                counts[seq % ntopics][1] += 1
            else:
                rec.on_failed(seq)
                counts[seq % ntopics][2] += 1
                name = err.name() if hasattr(err, "name") else str(err)
                self.errors[name] = self.errors.get(name, 0) + 1
            self.last_ack_us = now_us

        return on_delivery

    def _wait(self, seconds: float) -> None:
        # poll() rounds its timeout down to whole ms; short waits sleep instead
        # of spinning on poll(0).
        if seconds >= 0.002:
            self.client.poll(seconds - 0.001)
        else:
            time.sleep(seconds)

    def run(self, progress: Callable[[int], None] = lambda _i: None) -> None:
        """Send every message on schedule, then flush.

        Args:
            progress: called about every 1000 messages with the count sent.

        Raises:
            KafkavalError: the client did not deliver within message.timeout.ms + grace.
        """
        topics = self.workload.topics
        ntopics = len(topics)
        pools = self.pools
        psize = POOL_ENTRIES
        rec = self.recorder
        counts = [self.topic_counts[t] for t in topics]
        produce = self.client.produce
        poll = self.client.poll
        clock = self.clock
        wall_us = self.wall_us
        worker = self.worker
        cb = self._delivery_callback()
        # The recorder's on_sent, inlined: the send loop is the hot path.
        intended_a, sent_a = rec.intended, rec.sent
        send_delay_append = rec.send_delay_done.append
        self.warm_up()
        self.started_mono = clock()
        first = True
        for i, due in paced(self.phases, clock, self._wait, self.running.is_set, self.on_phase):
            if first:
                self.first_intended, first = due, False
            t = i % ntopics
            entry = pools[t][(i // ntopics) % psize]
            while True:
                sent = clock()
                value = make_value(worker, i, wall_us(), entry.tail)
                try:
                    produce(topics[t], value, entry.key, on_delivery=cb)
                    break
                except BufferError:
                    poll(0.005)  # the local queue is full: let the broker catch up
            due_us, sent_us = int(due * 1e6), int(sent * 1e6)
            intended_a[i] = due_us
            sent_a[i] = sent_us
            send_delay_append(sent_us - due_us)
            rec.sent_count += 1
            counts[t][0] += 1
            poll(0)
            if i % 1000 == 0:
                progress(i)
        self.last_send_mono = clock()
        self.flush()

    def warm_up(self, timeout: float = 30.0) -> None:
        """One unrecorded message per topic before the schedule starts.

        The idempotent producer first needs a producer id and a connection to
        each partition leader; without this, the first scheduled messages
        would measure that setup instead of the broker. Consumers ignore the
        warm-up messages (they carry no loadgen header).

        Raises:
            KafkavalError: the warm-up was not acknowledged within ``timeout``.
        """
        outcome: list[Any] = []
        for topic in self.workload.topics:
            self.client.produce(
                topic, WARM_UP, b"warm-up", on_delivery=lambda e, _m: outcome.append(e)
            )
        deadline = time.monotonic() + timeout
        while len(outcome) < len(self.workload.topics) and time.monotonic() < deadline:
            self.client.poll(0.1)
        errors = [e for e in outcome if e is not None]
        if len(outcome) < len(self.workload.topics) or errors:
            why = errors[0].str() if errors else f"no answer within {timeout:.0f} s"
            raise KafkavalError(f"warm-up produce to {self.workload.topics[0]} failed: {why}")

    def flush(self) -> None:
        """Wait for every delivery report, within message.timeout.ms plus a grace.

        Raises:
            KafkavalError: reports still missing at the deadline.
        """
        deadline = time.monotonic() + self.message_timeout_s + FLUSH_GRACE_S
        while len(self.client) > 0 and time.monotonic() < deadline:
            self.client.flush(1.0)
        if len(self.client) > 0:
            raise KafkavalError(
                f"{len(self.client)} messages still undelivered {self.message_timeout_s:.0f} s "
                "after the run; is the broker up?"
            )


def _set_event() -> threading.Event:
    e = threading.Event()
    e.set()
    return e
