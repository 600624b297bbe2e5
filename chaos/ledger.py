"""Compact records of what was sent and what was read, for the delivery checker.

Every message carries a unique id: the producer id and a sequence number
(0, 1, 2, ... per producer, so sequences are dense). The message key is
``b"<producer_id>:<seq>"``. Storage is flat arrays, not objects: a
`ProducerLedger` costs 13 bytes per message (status, partition, offset), a
`DeliveryLog` 24 bytes per record read (foreign ones too), so a few million messages need tens
of megabytes.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

# Send outcomes. PENDING: no delivery report yet (counted as indeterminate when
# the producer finishes).
PENDING, ACKED, FAILED, INDETERMINATE = 0, 1, 2, 3
STATUS_NAMES = {
    PENDING: "pending",
    ACKED: "acked",
    FAILED: "failed",
    INDETERMINATE: "indeterminate",
}


def message_key(producer_id: str, seq: int) -> bytes:
    return f"{producer_id}:{seq}".encode()


def parse_key(key: bytes | None) -> tuple[str, int] | None:
    """(producer_id, seq) from a message key, or None for a foreign message."""
    if not key:
        return None
    producer, sep, seq = key.decode(errors="replace").rpartition(":")
    if not sep or not seq.isdigit():
        return None
    return producer, int(seq)


def message_id(producer_id: str, seq: int) -> str:
    """The id as reports show it."""
    return f"{producer_id}:{seq}"


class ProducerLedger:
    """Outcome of every send of one producer, indexed by sequence number."""

    def __init__(self, producer_id: str) -> None:
        if ":" in producer_id:
            raise ValueError(f"producer id {producer_id!r} must not contain ':'")
        self.producer_id = producer_id
        self.status = bytearray()
        self.partition = array("i")
        self.offset = array("q")

    def __len__(self) -> int:
        return len(self.status)

    def next_seq(self) -> int:
        """Reserve the next sequence number (status PENDING)."""
        self.status.append(PENDING)
        self.partition.append(-1)
        self.offset.append(-1)
        return len(self.status) - 1

    def acked(self, seq: int, partition: int, offset: int) -> None:
        self.status[seq] = ACKED
        self.partition[seq] = partition
        self.offset[seq] = offset

    def failed(self, seq: int) -> None:
        self.status[seq] = FAILED

    def indeterminate(self, seq: int) -> None:
        self.status[seq] = INDETERMINATE

    def close(self) -> None:
        """No more reports will come: every PENDING send becomes INDETERMINATE."""
        for seq, st in enumerate(self.status):
            if st == PENDING:
                self.status[seq] = INDETERMINATE

    def count(self, status: int) -> int:
        return self.status.count(status)

    def seqs(self, status: int) -> Iterator[int]:
        return (seq for seq, st in enumerate(self.status) if st == status)


# The consumer ledger file (chaos.verifiable_consumer writes it, the checker
# reads it): one ``partition offset key`` line per delivery; an ``assign``
# line where the member got a new assignment (after a rebalance or a restart,
# when going back to the committed offset is allowed); and a line ending in
# ``TORN_MARK`` where a member killed in mid-write left a fragment, closed by
# the member that appended next so the fragment cannot swallow its first line.
ASSIGN_LINE = b"assign"
TORN_MARK = b"~torn"
FOREIGN_KEY = b"-"  # written for a record whose key is not one of ours


def ledger_key(key: bytes | None) -> bytes:
    """The key as a consumer ledger line carries it: ours as is, any other as ``-``."""
    if key is None or parse_key(key) is None or key.split() != [key]:
        return FOREIGN_KEY
    return key


class DeliveryLog:
    """Records read from Kafka (by the final reader or one consumer group), in read order.

    Foreign records (a key that is not ``<producer>:<seq>``) are kept too, as
    positions with producer index -1, so that offsets can be compared with the
    final log; iterating yields only ours. ``assignment_starts`` are the
    indexes of the records that begin a new assignment of a group member.
    The final reader fills ``start_offsets``/``end_offsets`` (each
    partition's log start offset and high watermark at the read).
    """

    def __init__(self) -> None:
        self.partition = array("i")
        self.offset = array("q")
        self.producer = array("i")  # index into `producers`, -1 for a foreign record
        self.seq = array("q")
        self.producers: list[str] = []
        self._producer_index: dict[str, int] = {}
        self.foreign = 0  # records whose key is not ours
        self.assignment_starts: list[int] = []
        self.torn_lines = 0  # fragments left by a member killed in mid-write
        self.unreadable_lines: list[str] = []  # any other line that is not a record
        self.start_offsets: dict[int, int] = {}
        self.end_offsets: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.offset)

    def add(self, partition: int, offset: int, key: bytes | None) -> None:
        parsed = parse_key(key)
        if parsed is None:
            self.foreign += 1
            self._append(partition, offset, -1, -1)
            return
        self.add_id(partition, offset, *parsed)

    def add_id(self, partition: int, offset: int, producer_id: str, seq: int) -> None:
        index = self._producer_index.get(producer_id)
        if index is None:
            index = self._producer_index[producer_id] = len(self.producers)
            self.producers.append(producer_id)
        self._append(partition, offset, index, seq)

    def _append(self, partition: int, offset: int, producer: int, seq: int) -> None:
        self.partition.append(partition)
        self.offset.append(offset)
        self.producer.append(producer)
        self.seq.append(seq)

    def new_assignment(self) -> None:
        """The records added from now on belong to a new assignment."""
        if not self.assignment_starts or self.assignment_starts[-1] != len(self):
            self.assignment_starts.append(len(self))

    def record(self, i: int) -> tuple[str, int] | None:
        """(producer_id, seq) of the ``i``-th record, None for a foreign one."""
        index = self.producer[i]
        return None if index < 0 else (self.producers[index], self.seq[i])

    def __iter__(self) -> Iterator[tuple[int, int, str, int]]:
        """(partition, offset, producer_id, seq) of our records in read order."""
        for i in range(len(self.offset)):
            index = self.producer[i]
            if index >= 0:
                yield self.partition[i], self.offset[i], self.producers[index], self.seq[i]

    def extend_from_file(self, path: str) -> None:
        """Add the deliveries a verifiable consumer wrote (the format above).

        A fragment torn by kill -9 is counted in ``torn_lines`` and skipped:
        it was never committed, so its record comes again. Any other line
        that is not a record is kept in ``unreadable_lines``.
        """
        with open(path, "rb") as fh:
            for line in fh:
                fields = line.split()
                if not line.endswith(b"\n") or (fields and fields[-1] == TORN_MARK):
                    self.torn_lines += 1
                elif fields and fields[0] == ASSIGN_LINE:
                    self.new_assignment()
                elif len(fields) == 3 and fields[0].isdigit() and fields[1].isdigit():
                    self.add(int(fields[0]), int(fields[1]), fields[2])
                elif fields:
                    self.unreadable_lines.append(line.decode(errors="replace").strip()[:200])
