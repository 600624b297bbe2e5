"""Compact records of what was sent and what was read, for the delivery checker.

Every message carries a unique id: the producer id and a sequence number
(0, 1, 2, ... per producer, so sequences are dense). The message key is
``b"<producer_id>:<seq>"``. Storage is flat arrays, not objects: a
`ProducerLedger` costs 13 bytes per message (status, partition, offset), a
`DeliveryLog` 24 bytes per record read, so a few million messages need tens
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


class DeliveryLog:
    """Records read from Kafka (by the final reader or one consumer group), in read order."""

    def __init__(self) -> None:
        self.partition = array("i")
        self.offset = array("q")
        self.producer = array("i")  # index into `producers`
        self.seq = array("q")
        self.producers: list[str] = []
        self._producer_index: dict[str, int] = {}
        self.foreign = 0  # records whose key is not ours (ignored by the checker)

    def __len__(self) -> int:
        return len(self.offset)

    def add(self, partition: int, offset: int, key: bytes | None) -> None:
        parsed = parse_key(key)
        if parsed is None:
            self.foreign += 1
            return
        self.add_id(partition, offset, *parsed)

    def add_id(self, partition: int, offset: int, producer_id: str, seq: int) -> None:
        index = self._producer_index.get(producer_id)
        if index is None:
            index = self._producer_index[producer_id] = len(self.producers)
            self.producers.append(producer_id)
        self.partition.append(partition)
        self.offset.append(offset)
        self.producer.append(index)
        self.seq.append(seq)

    def __iter__(self) -> Iterator[tuple[int, int, str, int]]:
        """(partition, offset, producer_id, seq) in read order."""
        for i in range(len(self.offset)):
            yield self.partition[i], self.offset[i], self.producers[self.producer[i]], self.seq[i]

    def extend_from_file(self, path: str) -> None:
        """Add the lines ``partition offset key`` a verifiable consumer wrote."""
        with open(path, "rb") as fh:
            for line in fh:
                fields = line.split()
                if len(fields) != 3:
                    continue  # a line torn by kill -9 was never committed
                self.add(int(fields[0]), int(fields[1]), fields[2])
