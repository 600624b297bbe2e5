"""Which message a delivery report is for, from the order of the reports.

The delivery callback runs once per message inside ``poll()``, on the thread
that sends, so it must not parse the message. Reports can be attributed by
their order when two things hold:

* With ``enable.idempotence=true`` (the loadgen's default) librdkafka writes
  the messages of one partition in the order they were produced and reports
  them in that order, retries included (the broker rejects any other order).
* The loadgen picks each message's partition itself, with the hash of
  librdkafka's default partitioner (CRC-32 of the key modulo the partition
  count, so every key lands where it would have), and the key of message i
  is fixed by i's position in the send cycle. So is its partition, and so is
  its rank among the messages of that partition.

Hence the k-th successful report of partition P is for the k-th message sent
to P that did not fail. The callback of P only appends the ack time to P's
stream; ``resolve()`` turns the streams into the per-message ack slots in bulk
(numpy) when the recorder scans. A failed report reads its sequence number (it
is rare) and takes its message out of P's order: failures may be reported
before earlier messages' successes (queued messages time out while older ones
are still in flight), never after a later message's success. Every
``CHECK_EVERY``-th cycle position of each partition still reads the sequence
number of its successful reports too and compares it with the order's:
reports out of order set ``violation``, which fails the run, instead of
attributing latencies to the wrong messages.

Without idempotence, or with another partitioner configured, the order is not
guaranteed; ``ordered_config()`` is then False and every report's sequence
number is read (loadgen.recorder, ``ProducerRecorder.callback_by_seq``).
"""

from __future__ import annotations

import bisect
import time
import zlib
from array import array
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from loadgen.payloads import SEQ_SLICE

# One cycle position in this many checks its reports against the order.
CHECK_EVERY = 64

DeliveryCallback = Callable[[Any, Any], None]


def ordered_config(config: Mapping[str, Any]) -> bool:
    """Whether the client's settings guarantee delivery reports in send order per partition."""
    idempotent = str(config.get("enable.idempotence", "false")).lower() == "true"
    return idempotent and config.get("partitioner", "consistent_random") == "consistent_random"


def partition_of(key: bytes, partitions: int) -> int:
    """librdkafka's default partitioner (consistent_random) for a non-empty key."""
    return zlib.crc32(key) % partitions


class PartitionOrder:
    """Delivery reports kept per partition in arrival order, resolved to messages in bulk.

    A stream's messages are numbered by rank: the order they were sent to
    that partition in. Message ``seq`` is at cycle position ``c = seq % len``;
    its rank is ``(seq // len) * m + (index of c among the stream's m positions)``.

    Args:
        stream_of_position: for each position c of the send cycle (message i
            is at position i % len), the stream (topic partition) it goes to.
        names: a name per stream ("topic[partition]"), for the violation text.
        on_failed: called with (error, seq) for a failed report.
    """

    def __init__(
        self,
        stream_of_position: Sequence[int],
        names: Sequence[str],
        on_failed: Callable[[Any, int], None],
    ) -> None:
        self.clen = len(stream_of_position)
        self.names = list(names)
        # Per stream, the ack times (ns) of its successful reports, in arrival order.
        self.acked_ns = [array("q") for _ in names]
        order = np.asarray(stream_of_position, dtype=np.int64)
        # Cycle positions of each stream, ascending: rank -> message.
        self._positions = [np.flatnonzero(order == s) for s in range(len(names))]
        self._stream_of = list(stream_of_position)
        self._index_in_stream = [0] * self.clen  # cycle position -> index among its stream's
        for pos in self._positions:
            for j, c in enumerate(pos):
                self._index_in_stream[c] = j
        # Per stream, the ranks of failed messages (ascending), and for each
        # the number of non-failed ranks below it: the k-th success is for
        # rank k + (how many of those counts are <= k).
        self._failed_ranks: list[list[int]] = [[] for _ in names]
        self._skips: list[list[int]] = [[] for _ in names]
        self._resolved = [0] * len(names)
        self._on_failed = on_failed
        self.violation: str | None = None

    # -- rank <-> message --------------------------------------------------------
    def seq_of(self, stream: int, rank: Any) -> Any:
        """The message at ``rank`` of ``stream`` (an int, or numpy arrays for many ranks)."""
        pos = self._positions[stream]
        return (rank // len(pos)) * self.clen + pos[rank % len(pos)]

    def rank_of(self, seq: int) -> tuple[int, int]:
        """(stream, rank) of message ``seq``."""
        c = seq % self.clen
        s = self._stream_of[c]
        return s, (seq // self.clen) * len(self._positions[s]) + self._index_in_stream[c]

    def checks(self, position: int) -> bool:
        """Whether cycle ``position`` gets the checking callback: every
        CHECK_EVERY-th position of each stream, its first included, so that
        every partition is checked."""
        return self._index_in_stream[position] % CHECK_EVERY == 0

    def success_rank(self, stream: int, k: int) -> int:
        """The rank of the message that the k-th successful report (from 0) is for."""
        return k + bisect.bisect_right(self._skips[stream], k)

    # -- the delivery callbacks ----------------------------------------------------
    def callbacks(self, stream: int) -> tuple[DeliveryCallback, DeliveryCallback]:
        """(plain, checking) delivery callbacks of one stream."""
        reports = self.acked_ns[stream]
        append, clock_ns = reports.append, time.monotonic_ns

        def plain(err: Any, msg: Any) -> None:
            if err is None:
                append(clock_ns())
            else:
                self._failed(err, msg)

        def checking(err: Any, msg: Any) -> None:
            if err is None:
                seq = int(msg.value()[SEQ_SLICE])
                expected = int(self.seq_of(stream, self.success_rank(stream, len(reports))))
                if seq != expected:
                    self._violate(stream, f"message {seq} reported where {expected} was due")
                append(clock_ns())
            else:
                self._failed(err, msg)

        return plain, checking

    def _failed(self, err: Any, msg: Any) -> None:
        seq = int(msg.value()[SEQ_SLICE])
        s, rank = self.rank_of(seq)
        ranks, skips = self._failed_ranks[s], self._skips[s]
        done = len(self.acked_ns[s])
        if done and rank <= self.success_rank(s, done - 1):
            self._violate(s, f"failure of message {seq} reported after a later message's success")
        if not ranks or rank > ranks[-1]:  # the usual case: failures come in send order
            ranks.append(rank)
            skips.append(rank - len(skips))
        elif rank not in ranks:
            bisect.insort(ranks, rank)
            skips[:] = [r - j for j, r in enumerate(ranks)]
        self._on_failed(err, seq)

    def _violate(self, stream: int, what: str) -> None:
        if self.violation is None:
            self.violation = (
                f"delivery reports of {self.names[stream]} came out of send order ({what}); "
                "librdkafka's per-partition order did not hold, so the latencies cannot be "
                "attributed to messages"
            )

    # -- bulk ------------------------------------------------------------------------
    def resolve(self, acked: np.ndarray) -> None:
        """Store the ack times reported since the last call into ``acked`` (ns, by message)."""
        for s, reports in enumerate(self.acked_ns):
            lo = self._resolved[s]
            # Slicing copies (under the GIL): the live array keeps growing.
            # The reports first, the skips second: every failure reported
            # before a success of the chunk is then in the skips.
            chunk = np.frombuffer(reports[lo:], dtype=np.int64)
            if chunk.size == 0:
                continue
            k = np.arange(lo, lo + chunk.size)
            skips = np.asarray(self._skips[s][:], dtype=np.int64)
            ranks = k + np.searchsorted(skips, k, side="right")
            acked[self.seq_of(s, ranks)] = chunk
            self._resolved[s] = lo + chunk.size
