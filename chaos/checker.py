"""The delivery checker: exact counts, with ids, from ledgers and delivery logs.

Inputs: each producer's `ProducerLedger` (what was acked, failed or left
indeterminate, and where each ack said the message sits), the final read of
the log (a fresh consumer, every partition from its log start to its high
watermark) and each consumer group's deliveries. Outputs (all exact):

- lost: acked and never in the log (acks at offsets the log no longer holds
  because its start moved up count as removed instead);
- log_duplicates: extra copies of one id at other offsets in the log;
- reordered: per partition and producer, a record whose sequence is lower than
  one at an earlier offset (copies of an id already seen count as duplicates,
  not again as reorders);
- failed_visible: a send reported failed whose message is in the log;
- inconsistent_offsets: an acked message that is in the log, but the log
  holds something else (or nothing) at the partition and offset of its ack;
- foreign: records in the log that no producer of the run wrote;
- removed: acked messages at offsets below a partition's log start offset,
  when that start is above the run's first offset (records deleted before
  the final read could see them; ``log_start_offsets`` names the partitions);

and per group (Jepsen's consumer anomalies, checked against the final log):

- missing: acked and never delivered to the group;
- unseen: a record of the log whose send was failed or indeterminate, never
  delivered to the group (a group must read every record of the log);
- redeliveries: the same (partition, offset) delivered again;
- inconsistent_offsets: a delivery whose (partition, offset) holds another
  record in the final log, or none;
- nonmonotonic_poll: within one assignment, a partition's offset that is not
  above the previous one (going back is allowed only after a rebalance or a
  restart, where the group resumes from its committed offset);
- poll_skip: within one assignment, records of the log (whatever their send
  outcome) between two consecutive deliveries of a partition.

Per-id bookkeeping is a bytearray per producer indexed by the (dense)
sequence, so memory stays at a few bytes per message; the final log is
indexed by (partition, offset) in one array per partition.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Mapping
from typing import Any

from chaos.ledger import ACKED, FAILED, INDETERMINATE, DeliveryLog, ProducerLedger, message_id

# How many ids of each kind a result keeps (the counts are always exact).
MAX_IDS = 20
# Counts that are anomalies of the log as a whole, and of each group.
LOG_ANOMALIES = (
    "lost",
    "log_duplicates",
    "reordered",
    "failed_visible",
    "inconsistent_offsets",
    "foreign",
    "removed",
)
GROUP_ANOMALIES = (
    "missing",
    "unseen",
    "inconsistent_offsets",
    "nonmonotonic_poll",
    "poll_skip",
    "unreadable_lines",
)
# Per group, the deliveries that disagree with the final log's offsets.
GROUP_OFFSET_ANOMALIES = ("inconsistent_offsets", "nonmonotonic_poll", "poll_skip", "unseen")
_HOLE = -1  # an offset inside the read range that holds no record
# Where a result keeps the first ids (or positions) behind each count.
_SAMPLES = {
    "lost": "lost_ids",
    "log_duplicates": "duplicate_ids",
    "reordered": "reordered_ids",
    "failed_visible": "failed_visible_ids",
    "inconsistent_offsets": "inconsistent_offset_ids",
    "foreign": "foreign_positions",
    "removed": "removed_ids",
    "missing": "missing_ids",
    "redeliveries": "redelivered_ids",
    "unseen": "unseen_ids",
    "nonmonotonic_poll": "nonmonotonic_poll_ids",
    "poll_skip": "poll_skip_ids",
    "unreadable_lines": "unreadable_line_samples",
}


@dataclasses.dataclass
class GroupResult:
    delivered: int = 0
    redeliveries: int = 0
    missing: int = 0
    unseen: int = 0
    inconsistent_offsets: int = 0
    nonmonotonic_poll: int = 0
    poll_skip: int = 0
    torn_lines: int = 0
    unreadable_lines: int = 0
    missing_ids: list[str] = dataclasses.field(default_factory=list)
    redelivered_ids: list[str] = dataclasses.field(default_factory=list)
    unseen_ids: list[str] = dataclasses.field(default_factory=list)
    inconsistent_offset_ids: list[str] = dataclasses.field(default_factory=list)
    nonmonotonic_poll_ids: list[str] = dataclasses.field(default_factory=list)
    poll_skip_ids: list[str] = dataclasses.field(default_factory=list)
    unreadable_line_samples: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class CheckResult:
    sent: int = 0
    acked: int = 0
    failed: int = 0
    indeterminate: int = 0
    in_log: int = 0
    lost: int = 0
    log_duplicates: int = 0
    reordered: int = 0
    failed_visible: int = 0
    inconsistent_offsets: int = 0
    foreign: int = 0
    removed: int = 0
    lost_ids: list[str] = dataclasses.field(default_factory=list)
    duplicate_ids: list[str] = dataclasses.field(default_factory=list)
    reordered_ids: list[str] = dataclasses.field(default_factory=list)
    failed_visible_ids: list[str] = dataclasses.field(default_factory=list)
    inconsistent_offset_ids: list[str] = dataclasses.field(default_factory=list)
    foreign_positions: list[str] = dataclasses.field(default_factory=list)
    removed_ids: list[str] = dataclasses.field(default_factory=list)
    # Partitions whose log start offset was above the run's first offset.
    log_start_offsets: dict[int, int] = dataclasses.field(default_factory=dict)
    groups: dict[str, GroupResult] = dataclasses.field(default_factory=dict)

    @property
    def redeliveries(self) -> int:
        return sum(g.redeliveries for g in self.groups.values())

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self) | {"redeliveries": self.redeliveries}
        # JSON object keys are strings; say so here rather than at every reader.
        d["log_start_offsets"] = {str(p): o for p, o in self.log_start_offsets.items()}
        return d


def offset_anomalies(entry: Mapping[str, Any]) -> int | None:
    """Acks and deliveries of a result entry (``CheckResult.to_dict()``) that disagree
    with the final log's offsets; None when the entry does not carry every count
    (not measured, which is not 0)."""
    values = [entry.get("inconsistent_offsets")] + [
        g.get(name) for g in (entry.get("groups") or {}).values() for name in GROUP_OFFSET_ANOMALIES
    ]
    if not entry.get("groups") or any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def group_bound(bounds: Mapping[str, Any], name: str, group: str) -> int | None:
    """The bound of count ``name`` for ``group`` in a scenario's bounds:
    ``<name>_per_group`` is one number for every group or a mapping group ->
    number; None when not stated."""
    bound = bounds.get(f"{name}_per_group")
    if isinstance(bound, Mapping):
        return bound.get(group)
    return bound


def samples(result: CheckResult | GroupResult, count: str, n: int = 3) -> list[str]:
    """The first ``n`` ids (or positions) a result keeps for ``count``."""
    name = _SAMPLES.get(count)
    return list(getattr(result, name, [])[:n]) if name else []


def _note(ids: list[str], producer: str, seq: int) -> None:
    if len(ids) < MAX_IDS:
        ids.append(message_id(producer, seq))


def position(partition: int, offset: int) -> str:
    """A (partition, offset) as results show it: ``p0@12``."""
    return f"p{partition}@{offset}"


def _note_text(ids: list[str], text: str) -> None:
    if len(ids) < MAX_IDS:
        ids.append(text)


class _LogIndex:
    """The final log by position: which record (its index in the log) sits at (partition, offset).

    Each partition's range runs from its log start offset (or its lowest
    record) to its high watermark (or just past its highest record).
    """

    def __init__(self, log: DeliveryLog) -> None:
        lows: dict[int, int] = {}
        highs: dict[int, int] = {}
        for i in range(len(log)):
            p, o = log.partition[i], log.offset[i]
            lows[p] = min(lows.get(p, o), o)
            highs[p] = max(highs.get(p, o + 1), o + 1)
        for p, start in log.start_offsets.items():
            lows[p] = min(lows.get(p, start), start)
        for p, end in log.end_offsets.items():
            highs[p] = max(highs.get(p, end), end)
        self.base = lows
        self.slots = {
            p: array("q", [_HOLE]) * max(highs.get(p, low) - low, 0) for p, low in lows.items()
        }
        for i in range(len(log)):
            p, o = log.partition[i], log.offset[i]
            slots = self.slots[p]
            if slots[o - lows[p]] == _HOLE:
                slots[o - lows[p]] = i

    def at(self, partition: int, offset: int) -> int | None:
        """Index in the log of the record at this position; _HOLE if none; None outside the read."""
        slots = self.slots.get(partition)
        if slots is None:
            return None
        i = offset - self.base[partition]
        return slots[i] if 0 <= i < len(slots) else None

    def between(self, partition: int, low: int, high: int) -> list[int]:
        """Offsets strictly between ``low`` and ``high`` that hold a record."""
        slots = self.slots.get(partition)
        if slots is None:
            return []
        base = self.base[partition]
        first, last = max(low + 1 - base, 0), min(high - base, len(slots))
        return [base + i for i in range(first, last) if slots[i] != _HOLE]


def _counts_by_id(log: DeliveryLog, ledgers: Mapping[str, ProducerLedger]) -> dict[str, bytearray]:
    """Per producer, how often each sequence appears in ``log`` (saturating at 255)."""
    counts = {pid: bytearray(len(ledger)) for pid, ledger in ledgers.items()}
    for _partition, _offset, producer, seq in log:
        per = counts.get(producer)
        if per is not None and seq < len(per) and per[seq] < 255:
            per[seq] += 1
    return counts


def _is_ours(log: DeliveryLog, i: int, ledgers: Mapping[str, ProducerLedger]) -> bool:
    rec = log.record(i)
    return rec is not None and rec[0] in ledgers and 0 <= rec[1] < len(ledgers[rec[0]])


def check(
    ledgers: Mapping[str, ProducerLedger],
    log: DeliveryLog,
    groups: Mapping[str, DeliveryLog] | None = None,
    first_offsets: Mapping[int, int] | None = None,
) -> CheckResult:
    """Compare what producers were told with what the log and the groups hold.

    Args:
        ledgers: producer id -> its closed ledger.
        log: the final read (every partition from its log start to the high watermark).
        groups: consumer group -> what it was delivered (may be empty).
        first_offsets: the run's first offset per partition (default 0: a
            fresh topic); a log start above it means records were removed.
    """
    r = CheckResult()
    for ledger in ledgers.values():
        r.sent += len(ledger)
        r.acked += ledger.count(ACKED)
        r.failed += ledger.count(FAILED)
        r.indeterminate += ledger.count(INDETERMINATE)
    index = _LogIndex(log)
    starts = {
        p: start
        for p, start in sorted(log.start_offsets.items())
        if start > (first_offsets or {}).get(p, 0)
    }
    r.log_start_offsets = starts
    for i in range(len(log)):
        if not _is_ours(log, i, ledgers):
            r.foreign += 1
            _note_text(r.foreign_positions, position(log.partition[i], log.offset[i]))
    in_log = _counts_by_id(log, ledgers)
    r.in_log = sum(1 for per in in_log.values() for c in per if c)
    for pid, ledger in ledgers.items():
        per = in_log[pid]
        for seq, status in enumerate(ledger.status):
            if status == ACKED:
                _check_ack(r, index, log, pid, seq, ledger, per[seq] > 0)
            elif status == FAILED and per[seq]:
                r.failed_visible += 1
                _note(r.failed_visible_ids, pid, seq)
            if per[seq] > 1:
                r.log_duplicates += per[seq] - 1
                _note(r.duplicate_ids, pid, seq)
    _check_order(log, ledgers, r)
    for group, deliveries in (groups or {}).items():
        r.groups[group] = _check_group(deliveries, ledgers, log, index, in_log)
    return r


def _check_ack(
    r: CheckResult,
    index: _LogIndex,
    log: DeliveryLog,
    pid: str,
    seq: int,
    ledger: ProducerLedger,
    in_log: bool,
) -> None:
    """One acked message: lost, removed, or at another position than its ack said."""
    partition, offset = ledger.partition[seq], ledger.offset[seq]
    known = partition >= 0 and offset >= 0  # acks=0 learns no offset
    if known and offset < r.log_start_offsets.get(partition, -1):
        r.removed += 1  # the log no longer holds that offset: nothing to compare
        _note(r.removed_ids, pid, seq)
        return
    if not in_log:
        r.lost += 1
        _note(r.lost_ids, pid, seq)
        return
    if not known:
        return
    at = index.at(partition, offset)
    if at is None or at == _HOLE or log.record(at) != (pid, seq):
        r.inconsistent_offsets += 1
        _note(r.inconsistent_offset_ids, pid, seq)


def _check_order(log: DeliveryLog, ledgers: Mapping[str, ProducerLedger], r: CheckResult) -> None:
    seen = {pid: bytearray(len(ledger)) for pid, ledger in ledgers.items()}
    high: dict[tuple[int, str], int] = {}
    for partition, _offset, producer, seq in sorted(log, key=lambda rec: (rec[0], rec[1])):
        per = seen.get(producer)
        if per is None or seq >= len(per):
            continue  # not one of ours: counted as foreign
        if per[seq]:
            continue  # a duplicate copy: counted as a log duplicate already
        per[seq] = 1
        key = (partition, producer)
        if seq < high.get(key, -1):
            r.reordered += 1
            _note(r.reordered_ids, producer, seq)
        else:
            high[key] = seq


def _describe(log: DeliveryLog, i: int, partition: int, offset: int) -> str:
    rec = log.record(i)
    what = "a foreign record" if rec is None else message_id(*rec)
    return f"{what} at {position(partition, offset)}"


def _check_group(
    deliveries: DeliveryLog,
    ledgers: Mapping[str, ProducerLedger],
    log: DeliveryLog,
    index: _LogIndex,
    in_log: Mapping[str, bytearray],
) -> GroupResult:
    g = GroupResult(delivered=len(deliveries), torn_lines=deliveries.torn_lines)
    g.unreadable_lines = len(deliveries.unreadable_lines)
    g.unreadable_line_samples = deliveries.unreadable_lines[:MAX_IDS]
    # Redelivery is per (partition, offset). Offsets of a scenario's fresh topic
    # are dense from 0, so one bytearray per partition indexed by offset suffices.
    seen: dict[int, bytearray] = {}
    starts = set(deliveries.assignment_starts)
    previous: dict[int, int] = {}  # per partition, in this assignment
    highest: dict[int, int] = {}
    for i in range(len(deliveries)):
        partition, offset = deliveries.partition[i], deliveries.offset[i]
        flags = seen.setdefault(partition, bytearray())
        if offset >= len(flags):
            flags.extend(bytes(offset + 1 - len(flags)))
        if flags[offset]:
            g.redeliveries += 1
            rec = deliveries.record(i)
            _note_text(
                g.redelivered_ids,
                position(partition, offset) if rec is None else message_id(*rec),
            )
        else:
            flags[offset] = 1
        if i in starts:
            previous.clear()
            highest.clear()
        _check_position(g, deliveries, i, log, index, previous, highest)
        previous[partition] = offset
        highest[partition] = max(highest.get(partition, offset), offset)
    got = _counts_by_id(deliveries, ledgers)
    for pid, ledger in ledgers.items():
        per, logged = got[pid], in_log[pid]
        for seq, status in enumerate(ledger.status):
            if per[seq]:
                continue
            if status == ACKED:
                g.missing += 1
                _note(g.missing_ids, pid, seq)
            elif logged[seq]:
                g.unseen += 1
                _note(g.unseen_ids, pid, seq)
    return g


def _check_position(
    g: GroupResult,
    deliveries: DeliveryLog,
    i: int,
    log: DeliveryLog,
    index: _LogIndex,
    previous: Mapping[int, int],
    highest: Mapping[int, int],
) -> None:
    """The ``i``-th delivery against the final log and the assignment's earlier ones."""
    partition, offset = deliveries.partition[i], deliveries.offset[i]
    if offset >= log.start_offsets.get(partition, 0):  # below it the log holds nothing
        at = index.at(partition, offset)
        if at is None or at == _HOLE or log.record(at) != deliveries.record(i):
            g.inconsistent_offsets += 1
            _note_text(g.inconsistent_offset_ids, _describe(deliveries, i, partition, offset))
    before = previous.get(partition)
    if before is None:
        return
    if offset <= before:
        g.nonmonotonic_poll += 1
        _note_text(g.nonmonotonic_poll_ids, f"{position(partition, before)} then offset {offset}")
        return
    for skipped in index.between(partition, highest[partition], offset):
        g.poll_skip += 1
        _note_text(g.poll_skip_ids, position(partition, skipped))
