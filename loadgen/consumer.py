"""The run's consumer: reads the run's topics back and records end-to-end latency.

It is assigned every partition of the run's topics from the beginning (no
group rebalance to wait for), reads the header each loadgen message carries
(worker, sequence, send time), and counts each message once: a message read
twice (a redelivery) is counted as a duplicate, not as consumed. End-to-end
latency is wall clock at consume minus the send timestamp in the message,
both in µs (the one place wall-clock time crosses processes).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from kafkaval.errors import KafkavalError
from loadgen.payloads import read_header
from loadgen.recorder import ConsumerRecorder

_LOG = logging.getLogger("kafkaval.loadgen.consumer")
BATCH = 500


def take_available(client: Any, max_messages: int, timeout: float) -> list[Any]:
    """Wait up to ``timeout`` s for the first message, then take what is queued already.

    ``consume(n, timeout)`` alone returns only when ``n`` messages are there or
    the timeout ends, so at 1000 msg/s a batch of 500 waits the full timeout
    and every message of it looks up to that much later than it arrived: the
    end-to-end latency would measure the batching. ``poll`` returns with the
    first message; ``consume(n, 0)`` then adds only what already arrived.
    """
    first = client.poll(timeout)
    if first is None:
        return []
    return [first, *client.consume(max_messages - 1, 0)]


class RunConsumer:
    """A consumer thread for one run.

    Args:
        profile: label for the metrics.
        topics: the run's topics; partitions: partitions per topic.
        expected: messages per worker index (sizes the seen-sets).
        config: librdkafka consumer properties (loadgen.workload.consumer_config).
    """

    def __init__(
        self,
        profile: str,
        topics: tuple[str, ...],
        partitions: int,
        expected: dict[int, int],
        config: dict[str, str],
        wall_us: Callable[[], int] = lambda: time.time_ns() // 1000,
        consumer_factory: Callable[[dict[str, Any]], Any] = Consumer,
    ) -> None:
        self.profile = profile
        self.topics = topics
        self.recorder = ConsumerRecorder()
        self.topic_counts: dict[str, int] = {t: 0 for t in topics}
        self.stats: dict[str, Any] | None = None
        self.foreign = 0
        self.wall_us = wall_us
        self._seen = {w: bytearray(n) for w, n in expected.items()}
        self._stop = threading.Event()
        self._target: int | None = None
        self.done = threading.Event()  # set once the target count is consumed
        self.error: BaseException | None = None
        self.last_consume_mono = 0.0
        try:
            self.client = consumer_factory({**config, "stats_cb": self._on_stats, "logger": _LOG})
            self.client.assign(
                [TopicPartition(t, p, OFFSET_BEGINNING) for t in topics for p in range(partitions)]
            )
        except KafkaException as e:
            raise KafkavalError(f"cannot start the run's consumer: {e.args[0]}") from e
        self._thread = threading.Thread(target=self._loop, name=f"consumer-{profile}", daemon=True)

    @property
    def consumed(self) -> int:
        return self.recorder.consumed_count

    def _on_stats(self, text: str) -> None:
        try:
            self.stats = json.loads(text)
        except ValueError:  # best effort, see PacedProducer._on_stats
            pass

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        rec = self.recorder
        e2e = rec.e2e_done
        seen = self._seen
        counts = self.topic_counts
        try:
            while not self._stop.is_set():
                msgs = take_available(self.client, BATCH, 0.1)
                if not msgs:
                    continue
                now = self.wall_us()
                for m in msgs:
                    if m.error() is not None:
                        continue  # partition EOF and transient errors; librdkafka retries
                    header = read_header(m.value())
                    if header is None:
                        self.foreign += 1
                        continue
                    w, seq, ts = header
                    flags = seen.get(w)
                    if flags is None or seq >= len(flags):
                        self.foreign += 1
                        continue
                    if flags[seq]:
                        rec.duplicates += 1
                        continue
                    flags[seq] = 1
                    e2e.append(now - ts)
                    rec.consumed_count += 1
                    counts[m.topic()] += 1
                self.last_consume_mono = time.monotonic()
                if self._target is not None and rec.consumed_count >= self._target:
                    self.done.set()
        except BaseException as e:  # surfaced by drain(); a thread cannot raise to the caller
            self.error = e
            self.done.set()

    def drain(self, target: int, timeout: float) -> bool:
        """Wait until ``target`` distinct messages are consumed; True if reached."""
        self._target = target
        if self.recorder.consumed_count >= target:
            self.done.set()
        self.done.wait(timeout)
        if self.error is not None:
            raise KafkavalError(f"the run's consumer failed: {self.error}") from self.error
        return self.recorder.consumed_count >= target

    def id_mismatch(self, acked: dict[int, np.ndarray]) -> dict[str, int]:
        """Which ids differ between the acks and what was consumed, counted.

        ``acked``: per worker index, a bool per sequence number (True: acked).
        Equal counts can hide a lost acked message behind a consumed failed one;
        the seen-flags per sequence number tell them apart cheaply.
        """
        missing = extra = 0
        for w in set(self._seen) | set(acked):
            seen = np.frombuffer(bytes(self._seen.get(w, b"")), dtype=np.uint8).astype(bool)
            ok_w = acked.get(w, np.zeros(0, dtype=bool))
            ok = np.zeros(max(len(seen), len(ok_w)), dtype=bool)
            ok[: len(ok_w)] = ok_w
            got = np.zeros(len(ok), dtype=bool)
            got[: len(seen)] = seen
            missing += int((ok & ~got).sum())
            extra += int((got & ~ok).sum())
        return {"acked_not_consumed": missing, "consumed_not_acked": extra}

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        try:
            self.client.close()
        except (KafkaException, RuntimeError):  # already closed; nothing left to release
            pass
