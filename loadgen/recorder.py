"""Per-message latency recording: compact arrays, no sampling, exact percentiles.

Every message of a run gets three timestamps on the monotonic clock, in
nanoseconds as ``time.monotonic_ns()`` gives them (no conversion on the hot
path): intended (from the schedule), sent (just before ``produce()``) and
acked (delivery report). They live in preallocated ``array('q')`` slots
indexed by the message's sequence number, so recording costs an array store
or two. ``ProducerRecorder`` also owns the delivery callbacks, so it decides
which message a report is for (by its sequence number, or by its order,
loadgen.delivery_order). ``ProducerRecorder.scan()`` derives the rest in bulk:
counts and the completion-ordered latency arrays (µs) that the Prometheus
collector reads incrementally (see loadgen.metrics); ``arrays()`` gives the
slots in µs.
"""

from __future__ import annotations

import math
import threading
import time
from array import array
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kafkaval.record_types import Latency
from loadgen.delivery_order import DeliveryCallback, PartitionOrder
from loadgen.payloads import SEQ_SLICE

PERCENTILES: dict[str, float] = {"p50": 0.50, "p95": 0.95, "p99": 0.99, "p999": 0.999}

# Marks a slot whose event did not happen (not sent, or failed).
UNSET = -1


def _slots(n: int) -> array:
    a = array("q", [UNSET])
    return a * n


class ProducerRecorder:
    """Timestamps of ``n`` messages of one producer, indexed by sequence number.

    The send loop (loadgen.producer) stores the ``intended`` and ``sent``
    slots; the delivery callbacks, which the recorder hands out
    (``callback_by_seq``, ``callbacks_by_order``), store the ack time into the
    message's slot, or, when reports are attributed by their order, append it
    to its partition's list, which ``scan()`` maps into the slots. Both stores
    are lock-free: that is the whole per-message cost. Everything else
    (counts, per-topic counts, the completion-ordered latency arrays the
    collector and the progress line read) is derived in bulk by ``scan()``
    with numpy, which whoever reads calls first.

    Writers keep the orders the scan relies on: message i's ``intended`` slot
    is stored before its ``sent`` slot; ``sent`` slots fill from 0 upwards
    with no gap (the sent messages are a prefix); a delivery report arrives
    only after its ``sent`` slot is stored. An ``intended`` slot left UNSET
    for a sent message means "due when sent" (the max-rate loop saves the
    second store that way).

    Args:
        n: how many messages the run sends (slots are preallocated).
        topics: message i goes to topic ``topics[i % len(topics)]`` (for
            per-topic counts).
        on_error: called with the error of each failed delivery report.
    """

    def __init__(
        self,
        n: int,
        topics: Sequence[str],
        on_error: Callable[[Any], None] = lambda _e: None,
    ) -> None:
        self.n = n
        self.ntopics = len(topics)
        self.intended = _slots(n)  # ns
        self.sent = _slots(n)  # ns
        self.acked = _slots(n)  # ns
        self.failed: list[int] = []  # sequence numbers whose report carried an error
        # Per topic index: [sent, acked, failed], as of the last scan().
        self._rows: list[list[int]] = [[0, 0, 0] for _ in topics]
        # topic -> [sent, acked, failed] (the same lists), as of the last scan().
        self.topic_counts: dict[str, list[int]] = dict(zip(topics, self._rows, strict=True))
        # Completion-ordered latencies (µs), appended by scan(); read incrementally.
        self.service_done = array("q")
        self.response_done = array("q")
        self.send_delay_done = array("q")
        self.sent_count = 0
        self.acked_count = 0
        # The client's latest statistics (librdkafka JSON), for the collector's gauges.
        self.stats: dict[str, Any] | None = None
        self._on_error = on_error
        self._lock = threading.Lock()
        self._counted = np.zeros(n, dtype=bool)  # acked or failed, already folded in
        self._frontier = 0  # every message below it is counted
        self._failed_seen = 0
        # Set by callbacks_by_order(): the ack slots are then filled by _resolve().
        self.order: PartitionOrder | None = None

    # -- the per-message API (the producer inlines the same stores) ------------
    def on_sent(self, seq: int, intended_ns: int, sent_ns: int) -> None:
        self.intended[seq] = intended_ns
        self.sent[seq] = sent_ns

    def on_acked(self, seq: int, acked_ns: int) -> None:
        self.acked[seq] = acked_ns

    def on_failed(self, seq: int) -> None:
        self.failed.append(seq)

    @property
    def failed_count(self) -> int:
        return len(self.failed)

    # -- attribution: which message a delivery report is for --------------------
    def callback_by_seq(self) -> DeliveryCallback:
        """The delivery callback that finds each report's message by the
        sequence number in its value header (any client settings)."""
        acked_a = self.acked
        clock_ns = time.monotonic_ns

        def on_delivery(err: Any, msg: Any) -> None:
            if err is None:
                acked_a[int(msg.value()[SEQ_SLICE])] = clock_ns()
            else:
                self._failed(err, int(msg.value()[SEQ_SLICE]))

        return on_delivery

    def callbacks_by_order(
        self, stream_of_position: Sequence[int], names: Sequence[str]
    ) -> list[DeliveryCallback]:
        """The delivery callback of each send-cycle position, attributing by order.

        Only for settings that keep reports in send order per partition
        (``delivery_order.ordered_config``); see loadgen.delivery_order for
        the arguments. A report out of that order sets ``violation``.
        """
        order = PartitionOrder(stream_of_position, names, self._failed)
        per_stream = [order.callbacks(s) for s in range(len(names))]
        self.order = order
        return [per_stream[s][order.checks(c)] for c, s in enumerate(stream_of_position)]

    @property
    def violation(self) -> str | None:
        """Why the reports cannot be attributed to messages (None: they can)."""
        return None if self.order is None else self.order.violation

    def _failed(self, err: Any, seq: int) -> None:
        self.on_failed(seq)
        self._on_error(err)

    # -- derived state ----------------------------------------------------------
    def scan(self) -> None:
        """Fold what was recorded since the last scan into counts and latency arrays.

        Costs O(messages sent since the last scan + messages in flight), not
        O(n). Safe to call from any thread while the producer records.
        """
        with self._lock:
            self._resolve()
            sent_v = np.frombuffer(self.sent, dtype=np.int64)
            lo, hi = self.sent_count, self._sent_prefix(sent_v)
            f, nt = self._frontier, self.ntopics
            # The window: from the oldest message not yet counted to the last sent.
            sent_w = sent_v[f:hi]
            due_w = _due(np.frombuffer(self.intended, dtype=np.int64)[f:hi], sent_w)
            if hi > lo:  # newly sent: send delay, per-topic sent counts
                _extend(self.send_delay_done, (sent_w[lo - f :] - due_w[lo - f :]) // 1000)
                self.sent_count = hi
                for t, row in enumerate(self._rows):
                    row[0] = _count_below(hi, t, nt)
            failed = self.failed[self._failed_seen :]
            if failed:
                self._counted[failed] = True
                self._failed_seen += len(failed)
                for seq in failed:
                    self._rows[seq % nt][2] += 1
            counted_w = self._counted[f:hi]  # a view: updated in place below
            acked_w = np.frombuffer(self.acked, dtype=np.int64)[f:hi].copy()
            new = (acked_w != UNSET) & ~counted_w
            k = int(np.count_nonzero(new))
            if k:
                ack = acked_w[new]
                service = (ack - sent_w[new]) // 1000
                _extend(self.service_done, service)
                # At max rate every message is due when sent: response = service.
                _extend(
                    self.response_done, service if due_w is sent_w else (ack - due_w[new]) // 1000
                )
                counted_w |= new
                self.acked_count += k
                for t, row in enumerate(self._rows):
                    # message f + j is on topic (f + j) % nt
                    row[1] += k if nt == 1 else int(np.count_nonzero(new[(t - f) % nt :: nt]))
            self._frontier = hi if counted_w.all() else f + int(np.argmin(counted_w))

    def _resolve(self) -> None:
        """Ack slots from the reports attributed by order (caller holds the lock).

        Before anything reads ``acked``: a report is appended after its
        message's ``sent`` slot is stored, so every slot it fills is inside
        the sent prefix the scan computes next.
        """
        if self.order is not None:
            self.order.resolve(np.frombuffer(self.acked, dtype=np.int64))

    def _sent_prefix(self, sent_v: np.ndarray) -> int:
        """How many messages are sent: the first UNSET ``sent`` slot (binary search)."""
        lo, hi = self.sent_count, self.n
        while lo < hi:
            mid = (lo + hi) // 2
            if sent_v[mid] == UNSET:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def last_ack_us(self) -> int:
        """Monotonic µs of the latest delivery report (0 if none)."""
        with self._lock:
            self._resolve()
        return max(0, int(np.frombuffer(self.acked, dtype=np.int64).max(initial=0)) // 1000)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(intended, sent, acked) in µs as int64 numpy copies, UNSET where not happened."""
        with self._lock:
            self._resolve()
        sent = np.array(self.sent, dtype=np.int64)
        intended = _due(np.array(self.intended, dtype=np.int64), sent)
        return _to_us(intended), _to_us(sent), _to_us(np.array(self.acked, dtype=np.int64))


def _extend(arr: array, values: np.ndarray) -> None:
    """Append int64 ``values`` to ``arr`` through their buffer (no bytes copy)."""
    arr.frombytes(memoryview(np.ascontiguousarray(values).data).cast("B"))


def _due(intended: np.ndarray, sent: np.ndarray) -> np.ndarray:
    """Intended times with the "due when sent" slots (UNSET, but sent) filled in.

    ``sent`` itself when every slot is "due when sent" (the max-rate loop).
    """
    if intended.size and intended.max() == UNSET:
        return sent
    return np.where(intended == UNSET, sent, intended)


def _to_us(ns: np.ndarray) -> np.ndarray:
    return np.where(ns == UNSET, UNSET, ns // 1000)


def _count_below(hi: int, t: int, ntopics: int) -> int:
    """How many i in [0, hi) have i % ntopics == t."""
    return max(0, (hi - t + ntopics - 1) // ntopics)


class ConsumerRecorder:
    """End-to-end latencies (µs) of consumed messages, in consume order."""

    def __init__(self) -> None:
        self.e2e_done = array("q")
        self.consumed_count = 0
        self.duplicates = 0


def percentile_nearest_rank(sorted_values: Sequence[float] | np.ndarray, q: float) -> float:
    """The nearest-rank percentile: the ``ceil(q*n)``-th smallest value.

    The same rank rule as Prometheus' ``histogram_quantile`` (rank ``q*n``,
    first bucket whose cumulative count reaches it), so the two can be
    compared bucket for bucket.

    Raises:
        ValueError: empty input or q outside (0, 1].
    """
    n = len(sorted_values)
    if n == 0:
        raise ValueError("no values")
    if not 0 < q <= 1:
        raise ValueError(f"quantile {q} outside (0, 1]")
    rank = max(1, math.ceil(q * n))
    return float(sorted_values[rank - 1])


def summarize_us(values_us: np.ndarray | Sequence[int]) -> Latency:
    """p50/p95/p99/p999/max/mean in seconds plus count, from µs values.

    An empty input gives None for every figure (and count 0) rather than
    raising: a run where nothing was acked still writes its record.
    """
    arr = np.sort(np.asarray(values_us, dtype=np.int64))
    if arr.size == 0:
        return {
            "p50": None, "p95": None, "p99": None, "p999": None,
            "max": None, "mean": None, "count": 0,
        }  # fmt: skip
    p = {k: percentile_nearest_rank(arr, q) / 1e6 for k, q in PERCENTILES.items()}
    return {
        "p50": p["p50"], "p95": p["p95"], "p99": p["p99"], "p999": p["p999"],
        "max": float(arr[-1]) / 1e6,
        "mean": float(arr.mean()) / 1e6,
        "count": int(arr.size),
    }  # fmt: skip
