"""The delivery checker on synthetic histories: each defect gives exactly its count and id."""

from __future__ import annotations

from chaos.checker import MAX_IDS, check
from chaos.ledger import (
    ACKED,
    FAILED,
    INDETERMINATE,
    DeliveryLog,
    ProducerLedger,
    message_key,
    parse_key,
)

N = 10  # messages per producer


def clean_history() -> tuple[dict[str, ProducerLedger], DeliveryLog, dict[str, DeliveryLog]]:
    """Two producers, N messages each, all acked, all in the log in order, two groups."""
    ledgers = {}
    log = DeliveryLog()
    offsets = {0: 0, 1: 0}
    for pid, partition in (("pa", 0), ("pb", 1)):
        ledger = ProducerLedger(pid)
        for _ in range(N):
            seq = ledger.next_seq()
            offset = offsets[partition]
            offsets[partition] += 1
            ledger.acked(seq, partition, offset)
            log.add(partition, offset, message_key(pid, seq))
        ledgers[pid] = ledger
    groups = {}
    for group in ("g1", "g2"):
        deliveries = DeliveryLog()
        for partition, offset, pid, seq in log:
            deliveries.add_id(partition, offset, pid, seq)
        groups[group] = deliveries
    return ledgers, log, groups


def assert_only(result, **expected: int) -> None:
    counts = {
        "lost": result.lost,
        "log_duplicates": result.log_duplicates,
        "reordered": result.reordered,
        "failed_visible": result.failed_visible,
        "redeliveries": result.redeliveries,
        "missing": sum(g.missing for g in result.groups.values()),
    }
    assert counts == {k: expected.get(k, 0) for k in counts}


def test_clean_history_has_no_defects() -> None:
    ledgers, log, groups = clean_history()
    r = check(ledgers, log, groups)
    assert (r.sent, r.acked, r.failed, r.indeterminate, r.in_log) == (20, 20, 0, 0, 20)
    assert_only(r)
    assert r.groups["g1"].delivered == 20


def test_one_lost_acked_message() -> None:
    ledgers, _log, groups = clean_history()
    log = DeliveryLog()
    for partition, offset, pid, seq in _log:
        if (pid, seq) != ("pa", 4):
            log.add_id(partition, offset, pid, seq)
    r = check(ledgers, log, {})
    assert_only(r, lost=1)
    assert r.lost_ids == ["pa:4"]


def test_one_log_duplicate() -> None:
    ledgers, log, _ = clean_history()
    log.add_id(1, N, "pb", N - 1)  # the last message again at the next offset
    r = check(ledgers, log)
    assert_only(r, log_duplicates=1)
    assert r.duplicate_ids == ["pb:9"]


def test_duplicate_of_an_early_message_is_not_also_a_reorder() -> None:
    ledgers, log, _ = clean_history()
    log.add_id(0, N, "pa", 2)
    r = check(ledgers, log)
    assert_only(r, log_duplicates=1)


def test_one_redelivery_in_one_group() -> None:
    ledgers, log, groups = clean_history()
    groups["g2"].add_id(0, 3, "pa", 3)
    r = check(ledgers, log, groups)
    assert_only(r, redeliveries=1)
    assert r.groups["g2"].redeliveries == 1 and r.groups["g1"].redeliveries == 0
    assert r.groups["g2"].redelivered_ids == ["pa:3"]


def test_one_reorder() -> None:
    ledgers = {"pa": ProducerLedger("pa")}
    log = DeliveryLog()
    order = [0, 1, 3, 2, 4]  # seq 2 lands after seq 3
    for offset, seq in enumerate(order):
        ledgers["pa"].next_seq()
        log.add_id(0, offset, "pa", seq)
    for offset, seq in enumerate(order):
        ledgers["pa"].acked(seq, 0, offset)
    r = check(ledgers, log)
    assert_only(r, reordered=1)
    assert r.reordered_ids == ["pa:2"]


def test_order_is_per_partition_and_producer() -> None:
    # Interleaved producers and partitions are not reorders.
    ledgers = {"pa": ProducerLedger("pa"), "pb": ProducerLedger("pb")}
    log = DeliveryLog()
    for seq in range(4):
        for pid in ("pb", "pa"):
            ledgers[pid].next_seq()
            partition = seq % 2
            offset = len([1 for rec in log if rec[0] == partition])
            ledgers[pid].acked(seq, partition, offset)
            log.add_id(partition, offset, pid, seq)
    assert_only(check(ledgers, log))


def test_one_failed_but_visible() -> None:
    ledgers, log, _ = clean_history()
    ledgers["pb"].failed(7)
    r = check(ledgers, log)
    assert r.failed == 1 and r.acked == 19
    assert_only(r, failed_visible=1)
    assert r.failed_visible_ids == ["pb:7"]


def test_failed_and_absent_is_not_a_defect() -> None:
    ledgers, _log, _ = clean_history()
    ledgers["pa"].failed(0)
    log = DeliveryLog()
    for partition, offset, pid, seq in _log:
        if (pid, seq) != ("pa", 0):
            log.add_id(partition, offset, pid, seq)
    assert_only(check(ledgers, log))


def test_one_message_missing_for_one_group_only() -> None:
    ledgers, log, groups = clean_history()
    g1 = DeliveryLog()
    for partition, offset, pid, seq in groups["g1"]:
        if (pid, seq) != ("pb", 5):
            g1.add_id(partition, offset, pid, seq)
    groups["g1"] = g1
    r = check(ledgers, log, groups)
    assert_only(r, missing=1)
    assert r.groups["g1"].missing_ids == ["pb:5"] and r.groups["g2"].missing == 0


def test_indeterminate_sends_are_neither_lost_nor_failed() -> None:
    ledgers, _log, _ = clean_history()
    ledgers["pa"].indeterminate(1)
    log = DeliveryLog()
    for partition, offset, pid, seq in _log:
        if (pid, seq) != ("pa", 1):
            log.add_id(partition, offset, pid, seq)
    r = check(ledgers, log)
    assert r.indeterminate == 1
    assert_only(r)


def test_pending_becomes_indeterminate_on_close() -> None:
    ledger = ProducerLedger("p")
    for _ in range(3):
        ledger.next_seq()
    ledger.acked(0, 0, 0)
    ledger.failed(1)
    ledger.close()
    assert [ledger.count(s) for s in (ACKED, FAILED, INDETERMINATE)] == [1, 1, 1]


def test_foreign_records_are_ignored() -> None:
    ledgers, log, _ = clean_history()
    log.add(0, 99, b"not-ours")
    log.add(0, 100, None)
    log.add(0, 101, message_key("someone-else", 0))
    r = check(ledgers, log)
    assert log.foreign == 2
    assert_only(r)


def test_counts_are_exact_beyond_the_id_sample() -> None:
    ledger = ProducerLedger("big")
    for seq in range(5 * MAX_IDS):
        ledger.acked(ledger.next_seq(), 0, seq)
    log = DeliveryLog()
    for seq in range(0, 5 * MAX_IDS, 2):  # every second message reached the log
        log.add(0, seq, message_key("big", seq))
    r = check({"big": ledger}, log)
    assert r.lost == 5 * MAX_IDS // 2  # counted in full, beyond the ids it names
    assert len(r.lost_ids) == MAX_IDS and r.lost_ids[0] == "big:1"


def test_keys_round_trip() -> None:
    assert parse_key(message_key("run1-p0", 42)) == ("run1-p0", 42)
    assert parse_key(b"garbage") is None


def test_consumer_file_torn_line_is_skipped(tmp_path) -> None:
    path = tmp_path / "g.log"
    path.write_bytes(b"0 0 p:0\n0 1 p:1\n0 2 p:")
    log = DeliveryLog()
    log.extend_from_file(str(path))
    assert list(log) == [(0, 0, "p", 0), (0, 1, "p", 1)]
