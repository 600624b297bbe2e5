"""The paced producer: sends a Workload and records every message.

Delivery reports go to the recorder's callbacks (loadgen.recorder: by
partition order, or by sequence number), ``poll`` serves them while the loop
waits for the next due time, a full local queue (``BufferError``) is polled
and retried (the wait shows up as send delay), and ``flush`` ends the run
within a deadline.
A stop request only clears the running flag (kafkaval.signals installs the
signal handler).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaException, Producer

from kafkaval.errors import KafkavalError
from kafkaval.kafka_client import close_producer, partition_count
from kafkaval.pacing import Phase, paced
from loadgen.delivery_order import DeliveryCallback, ordered_config, partition_of
from loadgen.payloads import TABLES, build_pool, make_value
from loadgen.recorder import ProducerRecorder
from loadgen.workload import Workload

POOL_ENTRIES = 512
# The max-rate loop checks for a stop every this many messages (< 1 ms at speed).
STOP_CHECK_EVERY = 1024
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
        producer_factory: Callable[[dict[str, Any]], Any] = Producer,
    ) -> None:
        self.workload = workload
        self.profile = workload.name
        self.worker = worker
        self.phases = phases or workload.phases
        self.n = sum(p.count for p in self.phases)
        # error name -> how many: client errors (error_cb) and failed deliveries
        self.errors: dict[str, int] = {}
        self.recorder = ProducerRecorder(self.n, workload.topics, on_error=self._on_error)
        self.running = running or _set_event()
        self.on_phase = on_phase
        self.warmed_up = False
        self.started_mono = 0.0
        self.last_send_mono = 0.0
        tables = TABLES[: len(workload.topics)] if len(workload.topics) <= 3 else TABLES
        self.pools = [
            build_pool(
                tables[i % len(tables)],
                workload.record_size,
                workload.payload,
                POOL_ENTRIES,
                workload.key_space,
                seed=worker,
                sizes=workload.record_sizes,
                key_first=workload.key_first,
            )
            for i in range(len(workload.topics))
        ]
        # Filled by warm_up() (it needs the partition counts): _build_cycle().
        self.cycle: list[tuple[str, bytes, bytes, int, DeliveryCallback]] = []
        self.ordered = ordered_config(config)
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
            self.recorder.stats = json.loads(text)
        except ValueError:  # best effort: a torn statistics line only costs one gauge update
            pass

    def _on_error(self, err: Any) -> None:
        name = err.name() if hasattr(err, "name") else str(err)
        self.errors[name] = self.errors.get(name, 0) + 1

    @property
    def last_ack_mono(self) -> float:
        """Monotonic seconds of the latest delivery report (drain time, worker results)."""
        return self.recorder.last_ack_us() / 1e6

    def _build_cycle(self) -> None:
        """The send cycle: message i is entry i % len(cycle) of it.

        An entry is (topic, key, value tail, partition, delivery callback):
        topic i % ntopics, pool entry (i // ntopics) % POOL_ENTRIES, found by
        one lookup. When the settings keep the reports in send order, the
        partition is chosen here and the recorder attributes the reports by
        their order per partition (loadgen.delivery_order); otherwise the
        client's partitioner chooses (-1) and the recorder reads every
        report's sequence number.

        Raises:
            KafkavalError: the partition counts could not be read.
        """
        topics = self.workload.topics
        nt = len(topics)
        entries = [(topics[c % nt], self.pools[c % nt][c // nt]) for c in range(nt * POOL_ENTRIES)]
        if not self.ordered:
            cb = self.recorder.callback_by_seq()
            self.cycle = [(t, e.key, e.tail, -1, cb) for t, e in entries]
            return
        counts = {t: partition_count(self.client, t) for t in topics}
        placed = [(t, e, partition_of(e.key, counts[t])) for t, e in entries]
        streams: dict[tuple[str, int], int] = {}  # (topic, partition) -> stream index
        stream_of = [streams.setdefault((t, p), len(streams)) for t, _, p in placed]
        cbs = self.recorder.callbacks_by_order(stream_of, [f"{t}[{p}]" for t, p in streams])
        self.cycle = [(t, e.key, e.tail, p, cbs[c]) for c, (t, e, p) in enumerate(placed)]

    def _wait(self, seconds: float) -> None:
        # poll() rounds its timeout down to whole ms; short waits sleep instead
        # of spinning on poll(0).
        if seconds >= 0.002:
            self.client.poll(seconds - 0.001)
        else:
            time.sleep(seconds)

    def run(self) -> None:
        """Send every message on schedule, then flush.

        Rated phases follow the intended-time schedule of kafkaval.pacing;
        phases "as fast as possible" run a loop of their own, where a message
        is due when the sender is ready for it.

        The client is closed at the end, whatever happened.

        Raises:
            KafkavalError: the client did not deliver within message.timeout.ms + grace.
        """
        try:
            self._send_all()
        finally:
            self.close()  # the client is done: its threads and connections go now

    def _send_all(self) -> None:
        if not self.warmed_up:  # a worker warms up before the start barrier
            self.warm_up()
        # Message timestamps (wall-clock µs, for end-to-end latency): the
        # monotonic clock plus the wall-clock offset at the start, so one
        # clock read per message serves both (follows NTP slewing as the wall
        # clock does, but not its steps).
        wall_off = time.time_ns() - time.monotonic_ns()
        self.started_mono = time.monotonic()
        i = 0
        for rated, group in itertools.groupby(self.phases, key=lambda p: p.rate is not None):
            phases = tuple(group)
            if rated:
                i = self._send_rated(i, phases, wall_off)
            else:
                for phase in phases:
                    self.on_phase(phase)
                    i = self._send_max(i, phase.count, wall_off)
            if not self.running.is_set():
                break
        self.last_send_mono = time.monotonic()
        self.flush()
        self.recorder.scan()
        if self.recorder.violation is not None:
            raise KafkavalError(self.recorder.violation)

    # _send_max and _send_rated are near-copies on purpose: each is the hot loop
    # of its mode, and sharing a per-message helper would add a call per message.
    def _send_max(self, start: int, count: int, wall_off: int) -> int:
        """Messages ``start ..`` (``count`` of them) as fast as the client takes them.

        Returns the next message's index (less than ``start + count`` after a stop).
        """
        cycle, clen, worker = self.cycle, len(self.cycle), self.worker
        produce, poll, clock_ns = self.client.produce, self.client.poll, time.monotonic_ns
        intended_a, sent_a = self.recorder.intended, self.recorder.sent
        end = start + count
        for block in range(start, end, STOP_CHECK_EVERY):
            if not self.running.is_set():
                return block
            for i in range(block, min(block + STOP_CHECK_EVERY, end)):
                topic, key, tail, part, cb = cycle[i % clen]
                now = clock_ns()
                try:
                    value = make_value(worker, i, (now + wall_off) // 1000, tail)
                    produce(topic, value, key, part, cb)
                    sent_a[i] = now  # intended left UNSET: due when sent (recorder's rule)
                except BufferError:
                    intended_a[i] = now  # ready now, sent once the queue has room
                    sent_a[i] = self._send_when_room(i, wall_off)
                poll(0)
        return end

    def _send_rated(self, i0: int, phases: tuple[Phase, ...], wall_off: int) -> int:
        """Consecutive rated phases on one schedule from message ``i0``; returns the next i."""
        cycle, clen, worker = self.cycle, len(self.cycle), self.worker
        produce, poll, clock_ns = self.client.produce, self.client.poll, time.monotonic_ns
        intended_a, sent_a = self.recorder.intended, self.recorder.sent
        i = i0
        for j, due in paced(phases, time.monotonic, self._wait, self.running.is_set, self.on_phase):
            i = i0 + j
            topic, key, tail, part, cb = cycle[i % clen]
            sent = clock_ns()
            try:
                value = make_value(worker, i, (sent + wall_off) // 1000, tail)
                produce(topic, value, key, part, cb)
            except BufferError:
                sent = self._send_when_room(i, wall_off)
            intended_a[i] = int(due * 1e9)
            sent_a[i] = sent
            poll(0)
            i += 1
        return i

    def _send_when_room(self, i: int, wall_off: int) -> int:
        """Retry message i while the local queue is full; returns its send time (ns).

        The wait shows up as send delay: the broker is not keeping up. No
        other message is sent meanwhile, so the order per partition holds.
        """
        topic, key, tail, part, cb = self.cycle[i % len(self.cycle)]
        while True:
            self.client.poll(0.005)
            sent = time.monotonic_ns()
            try:
                value = make_value(self.worker, i, (sent + wall_off) // 1000, tail)
                self.client.produce(topic, value, key, part, cb)
                return sent
            except BufferError:
                continue

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
        self._build_cycle()
        self.warmed_up = True

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

    def close(self) -> None:
        """Destroy the client now (kafkaval.kafka_client.close_producer); ``run`` ends with it.

        Its threads and connections end here, not when the garbage collector
        breaks the reference cycle through the bound callbacks. Safe to call
        twice.
        """
        client, self.client = self.client, None
        if client is not None:
            close_producer(client)


def _set_event() -> threading.Event:
    e = threading.Event()
    e.set()
    return e
