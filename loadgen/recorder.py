"""Per-message latency recording: compact arrays, no sampling, exact percentiles.

Every message of a run gets three timestamps on the monotonic clock, in
microseconds: intended (from the schedule), sent (``produce()`` returned) and
acked (delivery report). They live in preallocated ``array('q')`` slots indexed
by the message's sequence number, so recording costs a few array stores.
Completed latencies are also appended, in completion order, to append-only
arrays that the Prometheus collector reads incrementally (see loadgen.metrics).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence

import numpy as np

PERCENTILES: dict[str, float] = {"p50": 0.50, "p95": 0.95, "p99": 0.99, "p999": 0.999}

# Marks a slot whose event did not happen (not sent, or failed).
UNSET = -1


def _slots(n: int) -> array:
    a = array("q", [UNSET])
    return a * n


class ProducerRecorder:
    """Timestamps of ``n`` messages of one producer, indexed by sequence number.

    Args:
        n: how many messages the run sends (slots are preallocated).
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.intended = _slots(n)
        self.sent = _slots(n)
        self.acked = _slots(n)
        # Completion-ordered latencies (µs) for the collector; appends only.
        self.service_done = array("q")
        self.response_done = array("q")
        self.send_delay_done = array("q")
        self.sent_count = 0
        self.acked_count = 0
        self.failed_count = 0

    def on_sent(self, seq: int, intended_us: int, sent_us: int) -> None:
        self.intended[seq] = intended_us
        self.sent[seq] = sent_us
        self.send_delay_done.append(sent_us - intended_us)
        self.sent_count += 1

    def on_acked(self, seq: int, acked_us: int) -> None:
        self.acked[seq] = acked_us
        self.service_done.append(acked_us - self.sent[seq])
        self.response_done.append(acked_us - self.intended[seq])
        self.acked_count += 1

    def on_failed(self, seq: int) -> None:
        self.failed_count += 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(intended, sent, acked) as int64 numpy copies."""
        return (
            np.array(self.intended, dtype=np.int64),
            np.array(self.sent, dtype=np.int64),
            np.array(self.acked, dtype=np.int64),
        )


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


def summarize_us(values_us: np.ndarray | Sequence[int]) -> dict[str, float | int | None]:
    """p50/p95/p99/p999/max/mean in seconds plus count, from µs values.

    An empty input gives None for every figure (and count 0) rather than
    raising: a run where nothing was acked still writes its record.
    """
    arr = np.sort(np.asarray(values_us, dtype=np.int64))
    if arr.size == 0:
        return {**{k: None for k in PERCENTILES}, "max": None, "mean": None, "count": 0}
    out: dict[str, float | int | None] = {
        k: percentile_nearest_rank(arr, q) / 1e6 for k, q in PERCENTILES.items()
    }
    out["max"] = float(arr[-1]) / 1e6
    out["mean"] = float(arr.mean()) / 1e6
    out["count"] = int(arr.size)
    return out
