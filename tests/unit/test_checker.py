"""The delivery checker on synthetic histories: each defect gives exactly its count and id."""

from __future__ import annotations

import pytest

from chaos.checker import GROUP_ANOMALIES, LOG_ANOMALIES, MAX_IDS, check
from chaos.ledger import (
    ACKED,
    FAILED,
    INDETERMINATE,
    DeliveryLog,
    ProducerLedger,
    ledger_key,
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
    """Every anomaly count is 0 but the ``expected`` ones (group counts summed over groups)."""
    counts = {name: getattr(result, name) for name in LOG_ANOMALIES}
    counts["redeliveries"] = result.redeliveries
    for name in GROUP_ANOMALIES:
        key = f"group_{name}" if name in counts else name
        counts[key] = sum(getattr(g, name) for g in result.groups.values())
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
    groups["g2"].new_assignment()  # a rebalance: back to the last committed offset
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
    # Offsets 4 and 6 of partition 1 came in one assignment: offset 5 was skipped.
    assert_only(r, missing=1, poll_skip=1)
    assert r.groups["g1"].missing_ids == ["pb:5"] and r.groups["g2"].missing == 0
    assert r.groups["g1"].poll_skip_ids == ["p1@5"]


def test_missing_at_the_end_is_missing_only() -> None:
    ledgers, log, groups = clean_history()
    g1 = DeliveryLog()
    for partition, offset, pid, seq in groups["g1"]:
        if (pid, seq) != ("pa", N - 1):
            g1.add_id(partition, offset, pid, seq)
    groups["g1"] = g1
    r = check(ledgers, log, groups)
    assert_only(r, missing=1)
    assert r.groups["g1"].missing_ids == [f"pa:{N - 1}"]


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


def test_foreign_records_are_reported() -> None:
    ledgers, log, _ = clean_history()
    log.add(0, 99, b"not-ours")
    log.add(0, 100, None)
    log.add(0, 101, message_key("someone-else", 0))
    r = check(ledgers, log)
    assert log.foreign == 2  # unreadable keys; the third is another run's producer
    assert_only(r, foreign=3)
    assert r.foreign_positions == ["p0@99", "p0@100", "p0@101"]


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


# ---- offsets as evidence (Jepsen's consumer anomalies) ----------------------


def _group_of(offsets_by_assignment: list[list[tuple[int, int]]], log: DeliveryLog) -> DeliveryLog:
    """A group's deliveries: per assignment the (partition, offset)s it read, as in the log."""
    at = {(p, o): (pid, seq) for p, o, pid, seq in log}
    group = DeliveryLog()
    for positions in offsets_by_assignment:
        group.new_assignment()
        for p, o in positions:
            group.add_id(p, o, *at[(p, o)])
    return group


def _all(log: DeliveryLog, partition: int) -> list[tuple[int, int]]:
    return [(p, o) for p, o, _pid, _seq in log if p == partition]


def test_ack_at_an_offset_holding_another_message_is_inconsistent() -> None:
    ledgers, log, groups = clean_history()
    ledgers["pa"].acked(3, 0, 7)  # the ack said offset 7; the log holds pa:7 there
    r = check(ledgers, log, groups)
    assert_only(r, inconsistent_offsets=1)
    assert r.inconsistent_offset_ids == ["pa:3"]


def test_ack_beyond_the_log_with_the_message_elsewhere_is_inconsistent() -> None:
    ledgers, log, _ = clean_history()
    ledgers["pb"].acked(2, 1, 50)
    assert_only(check(ledgers, log), inconsistent_offsets=1)


def test_ack_without_an_offset_is_not_compared() -> None:
    ledgers, log, _ = clean_history()
    ledgers["pb"].acked(2, -1, -1)  # acks=0: the client learns no offset
    assert_only(check(ledgers, log))


def test_group_read_an_offset_the_log_does_not_hold() -> None:
    ledgers, log, groups = clean_history()
    groups["g2"].add_id(0, N + 5, "pa", 4)  # past the log's end (truncated since?)
    r = check(ledgers, log, groups)
    assert_only(r, group_inconsistent_offsets=1)
    assert r.groups["g2"].inconsistent_offset_ids == [f"pa:4 at p0@{N + 5}"]


def test_group_read_another_message_at_an_offset() -> None:
    ledgers, log, groups = clean_history()
    g1 = DeliveryLog()
    for partition, offset, pid, seq in groups["g1"]:
        # At p1@9 the group was given pb:3 again; the log holds pb:9 there.
        g1.add_id(partition, offset, *(("pb", 3) if (partition, offset) == (1, 9) else (pid, seq)))
    groups["g1"] = g1
    r = check(ledgers, log, groups)
    assert_only(r, group_inconsistent_offsets=1, missing=1)
    assert r.groups["g1"].inconsistent_offset_ids == ["pb:3 at p1@9"]
    assert r.groups["g1"].missing_ids == ["pb:9"]


def test_going_back_within_one_assignment_is_nonmonotonic() -> None:
    ledgers, log, groups = clean_history()
    # Assignment 1 reads p0 0..4; assignment 2 starts at 7, reads 8, 9, then goes back to 5, 6.
    p0 = _all(log, 0)
    groups["g1"] = _group_of([p0[:5], p0[7:] + p0[5:7], _all(log, 1)], log)
    r = check(ledgers, log, groups)
    assert_only(r, nonmonotonic_poll=1)
    assert r.groups["g1"].nonmonotonic_poll_ids == ["p0@9 then offset 5"]


def test_going_back_after_a_new_assignment_is_allowed() -> None:
    ledgers, log, groups = clean_history()
    p0 = _all(log, 0)
    groups["g1"] = _group_of([p0[:6], p0[4:], _all(log, 1)], log)
    assert_only(check(ledgers, log, groups), redeliveries=2)


def test_skipping_records_within_one_assignment_is_poll_skip() -> None:
    ledgers, log, groups = clean_history()
    p0 = _all(log, 0)
    # Offsets 3 and 4 are jumped over, then read after a rebalance: nothing missing.
    groups["g1"] = _group_of([p0[:3] + p0[5:], p0[3:5], _all(log, 1)], log)
    r = check(ledgers, log, groups)
    assert_only(r, poll_skip=2)
    assert r.groups["g1"].poll_skip_ids == ["p0@3", "p0@4"]


def test_skipping_an_indeterminate_record_in_the_log_is_poll_skip_and_unseen() -> None:
    ledgers, log, groups = clean_history()
    ledgers["pa"].indeterminate(3)  # not acked, but the log holds it
    p0 = _all(log, 0)
    groups["g1"] = _group_of([p0[:3] + p0[4:], _all(log, 1)], log)
    r = check(ledgers, log, groups)
    assert_only(r, poll_skip=1, unseen=1)
    assert r.groups["g1"].unseen_ids == ["pa:3"]


def test_a_failed_record_in_the_log_never_read_is_unseen() -> None:
    ledgers, log, groups = clean_history()
    ledgers["pa"].failed(N - 1)  # failed, yet the log holds it: the group must read it
    p0 = _all(log, 0)
    groups["g1"] = _group_of([p0[:-1], _all(log, 1)], log)
    r = check(ledgers, log, groups)
    assert_only(r, failed_visible=1, unseen=1)


def test_a_skip_over_a_foreign_record_is_a_skip() -> None:
    ledgers, log, groups = clean_history()
    log.add(0, N, b"not-ours")
    ledgers["pa"].acked(ledgers["pa"].next_seq(), 0, N + 1)
    log.add_id(0, N + 1, "pa", N)
    groups["g1"].add_id(0, N + 1, "pa", N)
    groups["g2"].add(0, N, None)
    groups["g2"].add_id(0, N + 1, "pa", N)
    r = check(ledgers, log, groups)
    assert_only(r, foreign=1, poll_skip=1)
    assert r.groups["g1"].poll_skip_ids == [f"p0@{N}"]


def test_log_start_above_the_first_offset_is_reported_as_removed() -> None:
    ledgers, full, groups = clean_history()
    log = DeliveryLog()
    for partition, offset, pid, seq in full:
        if partition == 1 or offset >= 3:
            log.add_id(partition, offset, pid, seq)
    log.start_offsets = {0: 3, 1: 0}
    log.end_offsets = {0: N, 1: N}
    r = check(ledgers, log, groups)
    # Not lost (the log no longer holds those offsets), not a pass either.
    assert_only(r, removed=3)
    assert r.log_start_offsets == {0: 3} and r.removed_ids == ["pa:0", "pa:1", "pa:2"]
    assert r.to_dict()["log_start_offsets"] == {"0": 3}


def test_log_start_at_the_runs_first_offset_is_not_removal() -> None:
    ledgers, log, groups = clean_history()
    log.start_offsets = {0: 0, 1: 0}
    r = check(ledgers, log, groups, first_offsets={0: 0, 1: 0})
    assert_only(r)
    assert r.log_start_offsets == {}


# ---- the consumer's ledger file --------------------------------------------


def test_consumer_file_assignments_and_foreign_keys(tmp_path) -> None:
    path = tmp_path / "g.log"
    path.write_bytes(b"assign\n0 0 p:0\n0 1 -\nassign\n0 1 -\n0 2 p:2\n")
    log = DeliveryLog()
    log.extend_from_file(str(path))
    assert list(log) == [(0, 0, "p", 0), (0, 2, "p", 2)]
    assert log.foreign == 2 and len(log) == 4
    assert log.assignment_starts == [0, 2]


def test_torn_line_closed_by_the_next_member_loses_nothing(tmp_path) -> None:
    # A member killed in mid-write left "0 2 p:1" (of "0 2 p:12"); the next
    # member closed that fragment before appending its own lines.
    path = tmp_path / "g.log"
    path.write_bytes(b"assign\n0 0 p:0\n0 1 p:1\n0 2 p:1 ~torn\nassign\n0 2 p:2\n")
    log = DeliveryLog()
    log.extend_from_file(str(path))
    assert list(log) == [(0, 0, "p", 0), (0, 1, "p", 1), (0, 2, "p", 2)]
    assert log.torn_lines == 1 and log.unreadable_lines == []
    ledger = ProducerLedger("p")
    final = DeliveryLog()
    for seq in range(3):
        ledger.acked(ledger.next_seq(), 0, seq)
        final.add(0, seq, message_key("p", seq))
    r = check({"p": ledger}, final, {"g": log})
    assert_only(r)
    assert r.groups["g"].torn_lines == 1


def test_unreadable_lines_are_kept_and_counted(tmp_path) -> None:
    path = tmp_path / "g.log"
    path.write_bytes(b"assign\n0 0 p:0\nnot a record at all\n")
    log = DeliveryLog()
    log.extend_from_file(str(path))
    assert log.unreadable_lines == ["not a record at all"]
    r = check({}, DeliveryLog(), {"g": log})
    assert r.groups["g"].unreadable_lines == 1
    assert r.groups["g"].unreadable_line_samples == ["not a record at all"]


def test_ledger_key_keeps_ours_and_marks_others() -> None:
    assert ledger_key(b"run-p0:12") == b"run-p0:12"
    for other in (None, b"", b"plain", b"a b:1", b"x:1\n0 0 y:2"):
        assert ledger_key(other) == b"-"


def test_next_member_closes_a_torn_line_before_appending(tmp_path) -> None:
    import os

    from chaos.verifiable_consumer import open_ledger, write_all

    path = tmp_path / "g.log"
    path.write_bytes(b"assign\n0 0 p:0\n0 1 p:")  # killed in mid-write
    for _member in range(2):  # the second open finds a complete last line
        fd = open_ledger(str(path))
        write_all(fd, b"assign\n0 1 p:1\n")
        os.close(fd)
    log = DeliveryLog()
    log.extend_from_file(str(path))
    assert list(log) == [(0, 0, "p", 0), (0, 1, "p", 1), (0, 1, "p", 1)]
    assert log.torn_lines == 1 and log.assignment_starts == [0, 1, 2]


def _producer(config: dict, **kwargs) -> tuple:
    """A VerifiableProducer on a fake client; returns it and its delivery callbacks."""
    from chaos.verifiable_producer import VerifiableProducer

    reports: list = []

    class FakeClient:
        def __init__(self, _config: dict) -> None:
            pass

        def produce(self, topic, value, key, on_delivery) -> None:
            reports.append(on_delivery)

        def poll(self, _timeout: float) -> int:
            return 0

    return VerifiableProducer("p0", "t", config, producer_factory=FakeClient, **kwargs), reports


ACK_AT_7 = type("Msg", (), {"partition": lambda s: 0, "offset": lambda s: 7})()


@pytest.mark.parametrize(("acks", "recorded"), [("all", 7), ("0", -1)])
def test_producer_records_an_acks_0_offset_as_unknown(acks: str, recorded: int) -> None:
    producer, reports = _producer({"acks": acks})
    producer.send_one()
    # With acks=0 librdkafka still reports an offset: its own guess, never the broker's.
    reports[0](None, ACK_AT_7)
    assert (producer.ledger.partition[0], producer.ledger.offset[0]) == (0, recorded)


def test_a_partition_known_only_by_its_log_start_holds_nothing() -> None:
    ledgers, log, groups = clean_history()
    log.start_offsets = {0: 0, 1: 0, 2: 4}  # partition 2: emptied, no end known
    r = check(ledgers, log, groups)
    assert_only(r)
    assert r.log_start_offsets == {2: 4}


def test_markers_keep_the_time_of_the_last_delivery(tmp_path) -> None:
    import os

    from chaos.verifiable_consumer import write_all, write_marker

    path = tmp_path / "g.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        write_all(fd, b"0 0 p:0\n")
        os.utime(fd, ns=(1_000_000_000, 1_000_000_000))  # the delivery, long ago
        write_marker(fd, b"assign\n")
        assert path.stat().st_mtime_ns == 1_000_000_000
        write_all(fd, b"0 1 p:1\n")
        assert path.stat().st_mtime_ns > 1_000_000_000
    finally:
        os.close(fd)


def test_producer_unsafe_mode_records_every_nth_ack_as_failed() -> None:
    producer, reports = _producer({}, fail_every=2)
    for _ in range(4):
        producer.send_one()
    for report in reports:
        report(None, ACK_AT_7)
    assert list(producer.ledger.status) == [FAILED, ACKED, FAILED, ACKED]
