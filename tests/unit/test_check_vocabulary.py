"""kafkaval.verdict: the one pass/fail Check, its record shape and its console line."""

from __future__ import annotations

from kafkaval.verdict import (
    Check,
    all_passed,
    at_most,
    failed,
    failure,
    failure_lines,
    format_check,
)


def test_not_measured_fails_closed_whatever_the_caller_says() -> None:
    c = Check("max_broker_memory_bytes", 2.0, None, True)
    assert not c.passed and c.reason == "not measured"
    assert not all_passed([Check("a", 1, 0, True), c])
    assert not at_most("lost", None, 0, "lost not counted").passed


def test_all_passed_and_failed_keep_the_order() -> None:
    ok, bad, worse = Check("a", 1, 0, True), Check("b", 1, 2, False), Check("c", 0, 5, False)
    assert all_passed([]) and all_passed([ok])
    assert not all_passed([ok, bad])
    assert failed([bad, ok, worse]) == [bad, worse]


def test_at_most_keeps_the_reason_only_when_it_fails() -> None:
    assert at_most("lost", 0, 0, "lost 0 > 0") == Check("lost", 0, 0, True, "")
    assert at_most("lost", 3, 0, "lost 3 > 0") == Check("lost", 0, 3, False, "lost 3 > 0")
    assert failure_lines([at_most("a", 1, 0, "a 1 > 0"), at_most("b", 0, 0, "b")]) == ["a 1 > 0"]


def test_a_failed_check_without_a_reason_is_listed_by_its_console_line() -> None:
    assert failure_lines([Check("max_failed", 0, 3, False, expr="failed <= 0")]) == [
        "FAIL max_failed (failed <= 0): measured 3, limit 0"
    ]


def test_record_shape_is_the_thresholds_entry_and_round_trips() -> None:
    c = Check("p99_e2e", 0.05, 0.062, False, expr="p99(e2e) < 50ms")
    assert c.to_record() == {
        "expr": "p99(e2e) < 50ms",
        "limit": 0.05,
        "value": 0.062,
        "passed": False,
    }
    unmeasured = Check("mem", 2.0, None, False, "not measured: broker_memory", "broker_memory < 2")
    assert unmeasured.to_record()["reason"] == "not measured: broker_memory"
    assert Check.from_record("p99_e2e", c.to_record()) == c
    assert Check.from_record("mem", unmeasured.to_record()) == unmeasured


def test_format_check_lines() -> None:
    bad = Check("max_failed", 0, 3, False, expr="failed <= 0")
    assert format_check(bad) == "FAIL max_failed (failed <= 0): measured 3, limit 0"
    ok = Check("max_failed", 0, 0, True, expr="failed <= 0")
    assert format_check(ok) == "PASS max_failed (failed <= 0): measured 0, limit 0"
    mem = Check("mem", 2.5, None, False, "not measured: broker_memory")
    assert format_check(mem) == "FAIL mem: limit 2.5 (not measured: broker_memory)"
    lost = Check("lost", 0, 3, False, "lost 3 > 0 (m1, m2)")
    assert format_check(lost) == "FAIL lost: measured 3, limit 0 (lost 3 > 0 (m1, m2))"
    assert format_check(failure("2 committed change(s) never reached their topic")) == (
        "FAIL: 2 committed change(s) never reached their topic"
    )
    assert format_check(Check("same", 1, 0.5, True, expr="same")) == (
        "PASS same: measured 0.5, limit 1"
    )
