"""The delivery checker: exact counts, with ids, from ledgers and delivery logs.

Inputs: each producer's `ProducerLedger` (what was acked, failed or left
indeterminate), the final read of the log (a fresh consumer, every partition
from the beginning to its high watermark) and each consumer group's
deliveries. Outputs (all exact):

- lost: acked and never in the log;
- log_duplicates: extra copies of one id at other offsets in the log;
- redeliveries per group: the same (partition, offset) delivered again to the group;
- reordered: per partition and producer, a record whose sequence is lower than
  one at an earlier offset (copies of an id already seen count as duplicates,
  not again as reorders);
- failed_visible: a send reported failed whose message is in the log;
- missing per group: acked and never delivered to that group.

Per-id bookkeeping is a bytearray per producer indexed by the (dense)
sequence, so memory stays at a few bytes per message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from chaos.ledger import ACKED, FAILED, INDETERMINATE, DeliveryLog, ProducerLedger, message_id

# How many ids of each kind a result keeps (the counts are always exact).
MAX_IDS = 20


@dataclasses.dataclass
class GroupResult:
    delivered: int = 0
    redeliveries: int = 0
    missing: int = 0
    missing_ids: list[str] = dataclasses.field(default_factory=list)
    redelivered_ids: list[str] = dataclasses.field(default_factory=list)


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
    lost_ids: list[str] = dataclasses.field(default_factory=list)
    duplicate_ids: list[str] = dataclasses.field(default_factory=list)
    reordered_ids: list[str] = dataclasses.field(default_factory=list)
    failed_visible_ids: list[str] = dataclasses.field(default_factory=list)
    groups: dict[str, GroupResult] = dataclasses.field(default_factory=dict)

    @property
    def redeliveries(self) -> int:
        return sum(g.redeliveries for g in self.groups.values())

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"redeliveries": self.redeliveries}


def _note(ids: list[str], producer: str, seq: int) -> None:
    if len(ids) < MAX_IDS:
        ids.append(message_id(producer, seq))


def _counts_by_id(log: DeliveryLog, ledgers: Mapping[str, ProducerLedger]) -> dict[str, bytearray]:
    """Per producer, how often each sequence appears in ``log`` (saturating at 255)."""
    counts = {pid: bytearray(len(ledger)) for pid, ledger in ledgers.items()}
    for _partition, _offset, producer, seq in log:
        per = counts.get(producer)
        if per is not None and seq < len(per) and per[seq] < 255:
            per[seq] += 1
    return counts


def check(
    ledgers: Mapping[str, ProducerLedger],
    log: DeliveryLog,
    groups: Mapping[str, DeliveryLog] | None = None,
) -> CheckResult:
    """Compare what producers were told with what the log and the groups hold.

    Args:
        ledgers: producer id -> its closed ledger.
        log: the final read (every partition from the beginning to the high watermark).
        groups: consumer group -> what it was delivered (may be empty).
    """
    r = CheckResult()
    for ledger in ledgers.values():
        r.sent += len(ledger)
        r.acked += ledger.count(ACKED)
        r.failed += ledger.count(FAILED)
        r.indeterminate += ledger.count(INDETERMINATE)
    in_log = _counts_by_id(log, ledgers)
    r.in_log = sum(1 for per in in_log.values() for c in per if c)
    for pid, ledger in ledgers.items():
        per = in_log[pid]
        for seq, status in enumerate(ledger.status):
            if status == ACKED and not per[seq]:
                r.lost += 1
                _note(r.lost_ids, pid, seq)
            elif status == FAILED and per[seq]:
                r.failed_visible += 1
                _note(r.failed_visible_ids, pid, seq)
            if per[seq] > 1:
                r.log_duplicates += per[seq] - 1
                _note(r.duplicate_ids, pid, seq)
    _check_order(log, ledgers, r)
    for group, deliveries in (groups or {}).items():
        r.groups[group] = _check_group(deliveries, ledgers)
    return r


def _check_order(log: DeliveryLog, ledgers: Mapping[str, ProducerLedger], r: CheckResult) -> None:
    seen = {pid: bytearray(len(ledger)) for pid, ledger in ledgers.items()}
    high: dict[tuple[int, str], int] = {}
    for partition, _offset, producer, seq in sorted(log, key=lambda rec: (rec[0], rec[1])):
        per = seen.get(producer)
        if per is None or seq >= len(per):
            continue  # not one of ours
        if per[seq]:
            continue  # a duplicate copy: counted as a log duplicate already
        per[seq] = 1
        key = (partition, producer)
        if seq < high.get(key, -1):
            r.reordered += 1
            _note(r.reordered_ids, producer, seq)
        else:
            high[key] = seq


def _check_group(deliveries: DeliveryLog, ledgers: Mapping[str, ProducerLedger]) -> GroupResult:
    g = GroupResult(delivered=len(deliveries))
    # Redelivery is per (partition, offset). Offsets of a scenario's fresh topic
    # are dense from 0, so one bytearray per partition indexed by offset suffices.
    seen: dict[int, bytearray] = {}
    for partition, offset, producer, seq in deliveries:
        flags = seen.setdefault(partition, bytearray())
        if offset >= len(flags):
            flags.extend(bytes(offset + 1 - len(flags)))
        if flags[offset]:
            g.redeliveries += 1
            _note(g.redelivered_ids, producer, seq)
        else:
            flags[offset] = 1
    got = _counts_by_id(deliveries, ledgers)
    for pid, ledger in ledgers.items():
        per = got[pid]
        for seq, status in enumerate(ledger.status):
            if status == ACKED and not per[seq]:
                g.missing += 1
                _note(g.missing_ids, pid, seq)
    return g
