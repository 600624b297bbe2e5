"""The CDC change checker on synthetic ledgers and events with known faults."""

from __future__ import annotations

import json

import pytest

from cdc.change_checker import check_changes
from cdc.changes import Change, ChangeMix, Ledger
from cdc.connect import failure_of
from cdc.errors import CdcError
from cdc.events import ChangeEvent, parse_event
from cdc.snapshot import rows_per_table
from kafkaval.errors import UsageError


def change(pk: int, op: str = "c", version: int = 1, phase: str = "kill", t: float = 0.0) -> Change:
    return Change("videos", pk, op, version, 100 + pk, 1000, t, phase)


def event(c: Change, offset: int = 0, op: str | None = None) -> ChangeEvent:
    return ChangeEvent(
        "dbserver.public.videos",
        0,
        offset,
        c.table,
        c.pk,
        op or c.op,
        c.version,
        c.txid,
        1000,
        1001,
        "false",
        1002,
    )


def test_all_delivered_once_passes() -> None:
    ledger = [change(1), change(1, "u", 2), change(2), change(1, "d", 2)]
    result = check_changes(ledger, [event(c, i) for i, c in enumerate(ledger)], {"kill": 0})
    assert result.passed and result.missing == 0 and result.duplicates == 0
    assert result.delivered == 4


def test_missing_change_is_found_exactly() -> None:
    ledger = [change(1), change(2), change(3)]
    result = check_changes(ledger, [event(ledger[0]), event(ledger[2])])
    assert not result.passed and result.missing == 1
    assert result.missing_sample == [["videos", 2, "c", 1]]


def test_duplicates_counted_per_phase_against_bounds() -> None:
    kill = [change(1), change(2)]
    graceful = [change(3, phase="graceful")]
    events = [event(kill[0]), event(kill[0], 1), event(kill[0], 2), event(kill[1])]
    events += [event(graceful[0]), event(graceful[0], 5)]
    result = check_changes(kill + graceful, events, {"kill": 2, "graceful": 0})
    assert result.duplicates_by_phase == {"kill": 2, "graceful": 1}
    assert result.duplicates == 3
    assert result.failures == ["1 duplicate(s) in phase graceful exceed the bound 0"]


def test_resnapshot_and_unexpected_and_txid() -> None:
    ledger = [change(1)]
    bad_tx = ChangeEvent("t", 0, 1, "videos", 1, "c", 1, 999, 0, 0, "false", 0)
    snap = event(change(7), 2, op="r")
    stranger = event(change(8), 3)
    result = check_changes(ledger, [bad_tx, snap, stranger])
    assert result.resnapshotted == 1 and result.unexpected == 1 and result.txid_mismatches == 1
    assert not result.passed
    assert check_changes([], [snap], allow_resnapshot=True).passed


def test_ledger_window_counts() -> None:
    ledger = Ledger()
    for i, t in enumerate([1.0, 2.0, 3.5, 5.0]):
        ledger.add(change(i, t=t))
    assert ledger.committed_between(2.0, 4.0) == 2
    assert ledger.committed_between(0, 10, phase="graceful") == 0


def test_change_mix_parse() -> None:
    mix = ChangeMix.parse("2:1:1")
    assert (mix.inserts, mix.updates, mix.deletes) == (0.5, 0.25, 0.25)
    for bad in ("1:2", "0:1:1", "a:b:c", "1:-1:1"):
        with pytest.raises(UsageError):
            ChangeMix.parse(bad)


def test_parse_event_envelope_and_errors() -> None:
    value = {
        "before": {"id": 3, "version": 4},
        "after": None,
        "source": {"table": "users", "txId": 5, "ts_ms": 10, "snapshot": "false"},
        "op": "d",
        "ts_ms": 12,
    }
    ev = parse_event("dbserver.public.users", 1, 9, b'{"id":3}', json.dumps(value).encode(), 20)
    assert (ev.table, ev.pk, ev.op, ev.version, ev.txid) == ("users", 3, "d", 4, 5)
    with pytest.raises(CdcError, match="not a Debezium envelope"):
        parse_event("t", 0, 0, b'{"id":1}', b'{"x":1}', 0)


def test_failure_of_names_the_task_trace() -> None:
    status = {
        "connector": {"state": "RUNNING"},
        "tasks": [
            {
                "id": 0,
                "state": "FAILED",
                "trace": "org.apache.kafka.connect.errors.ConnectException: boom\n\tat x\n"
                "Caused by: org.postgresql.util.PSQLException: FATAL: no such db",
            }
        ],
    }
    line = failure_of(status)
    assert line is not None and "task 0 FAILED" in line and "no such db" in line
    assert failure_of({"connector": {"state": "RUNNING"}, "tasks": []}) is None


def test_rows_per_table_sums_exactly() -> None:
    for n in (3, 5000, 895_000, 12_345):
        split = rows_per_table(n)
        assert sum(split.values()) == n


def test_a_row_whose_version_goes_backwards_is_reordered() -> None:
    ledger = [change(1), change(1, "u", 2), change(1, "u", 3), change(2)]
    v1, v2, v3, other = ledger
    result = check_changes(ledger, [event(v1), event(v3, 1), event(v2, 2), event(other, 3)])
    assert result.reordered == 1 and not result.passed
    assert "1 change(s) arrived after a later version of the same row" in result.failures[0]


def test_replayed_copies_after_a_restart_are_duplicates_not_reordering() -> None:
    ledger = [change(1), change(1, "u", 2), change(1, "u", 3), change(1, "d", 3)]
    v1, v2, v3, gone = ledger
    # A restart replays from the last flushed offset: v2 and v3 come again, then the delete.
    events = [event(v1), event(v2, 1), event(v3, 2), event(v2, 3), event(v3, 4), event(gone, 5)]
    result = check_changes(ledger, events, {"kill": 2})
    assert result.reordered == 0 and result.duplicates == 2 and result.passed


def test_a_fault_counts_as_rolled_back_only_when_everything_runs_again() -> None:
    from cdc.restart_faults import running_again

    running = {"connector": {"state": "RUNNING"}, "tasks": [{"state": "RUNNING"}]}
    assert running_again(True, running)
    assert not running_again(False, running)  # the worker process is not back
    assert not running_again(True, {**running, "tasks": [{"state": "FAILED"}]})
    assert not running_again(True, {**running, "tasks": []})  # no task: nothing captures
    assert not running_again(True, {"connector": {"state": "PAUSED"}, "tasks": running["tasks"]})
    assert not running_again(True, {})  # the status could not be read


def test_every_rule_is_a_check_and_the_record_keeps_its_shape() -> None:
    kill = [change(1), change(2)]
    result = check_changes(kill, [event(kill[0]), event(kill[0], 1)], {"kill": 0})
    assert [(c.name, c.measured, c.limit, c.passed) for c in result.checks] == [
        ("missing", 1, 0, False),
        ("duplicates in phase kill", 1, 0, False),
        ("resnapshotted", 0, 0, True),
        ("txid_mismatches", 0, 0, True),
        ("reordered", 0, 0, True),
    ]
    assert result.failures == [
        "1 committed change(s) never reached their topic",
        "1 duplicate(s) in phase kill exceed the bound 0",
    ]
    record = result.as_dict()
    assert "checks" not in record and record["failures"] == result.failures
    assert record["passed"] is False
    assert json.loads(json.dumps(record)) == record
