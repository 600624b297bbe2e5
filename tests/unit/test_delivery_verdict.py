"""The scenario verdict names each anomaly class the checker found, with its first ids."""

from __future__ import annotations

import dataclasses

import pytest

from chaos.bounds import bound_checks, bounds_for, judge
from chaos.catalog import SCENARIOS
from chaos.checker import GROUP_ANOMALIES, LOG_ANOMALIES, CheckResult, GroupResult
from kafkaval.verdict import all_passed

BOUNDS = bounds_for(SCENARIOS["consumer-restart"], {"g1": 400})
OK = CheckResult(sent=100, acked=100, groups={"g1": GroupResult(delivered=100)})


def test_a_clean_result_passes() -> None:
    assert judge(OK, BOUNDS, True) == []


@pytest.mark.parametrize("name", LOG_ANOMALIES)
def test_each_log_anomaly_fails_the_verdict_by_name(name: str) -> None:
    result = dataclasses.replace(OK, **{name: 2})
    failures = judge(result, BOUNDS, True)
    assert failures[0] == f"{name} 2 > 0"


@pytest.mark.parametrize("name", GROUP_ANOMALIES)
def test_each_group_anomaly_fails_the_verdict_by_name(name: str) -> None:
    result = dataclasses.replace(OK, groups={"g1": GroupResult(delivered=100, **{name: 3})})
    assert judge(result, BOUNDS, True) == [f"group g1 {name} 3 > 0"]


def test_a_failure_names_the_first_ids() -> None:
    g1 = GroupResult(delivered=100, poll_skip=4, poll_skip_ids=["p0@3", "p0@4", "p0@5", "p0@6"])
    failures = judge(dataclasses.replace(OK, groups={"g1": g1}), BOUNDS, True)
    assert failures == ["group g1 poll_skip 4 > 0 (p0@3, p0@4, p0@5)"]


def test_removed_records_name_the_log_start() -> None:
    result = dataclasses.replace(OK, removed=3, removed_ids=["p:0"], log_start_offsets={0: 3})
    assert judge(result, BOUNDS, True) == [
        "removed 3 > 0 (p:0)",
        "records removed before the final read (log start offsets partition 0: 3)",
    ]


def test_an_unstated_bound_is_zero() -> None:
    bounds = {k: v for k, v in BOUNDS.items() if k != "poll_skip_per_group"}
    result = dataclasses.replace(OK, groups={"g1": GroupResult(delivered=100, poll_skip=1)})
    assert judge(result, bounds, True) == ["group g1 poll_skip 1 > 0"]


def test_a_moved_log_start_fails_even_without_acked_records_below_it() -> None:
    result = dataclasses.replace(OK, log_start_offsets={2: 4})
    assert judge(result, BOUNDS, True) == [
        "records removed before the final read (log start offsets partition 2: 4)"
    ]


def test_a_bound_per_group_may_name_each_group() -> None:
    bounds = {**BOUNDS, "redeliveries_per_group": {"g1": 10, "g2": 0}}
    g1, g2 = GroupResult(delivered=100, redeliveries=10), GroupResult(delivered=100, redeliveries=1)
    result = dataclasses.replace(OK, groups={"g1": g1, "g2": g2})
    assert judge(result, bounds, True) == ["group g2 redeliveries 1 > 0"]


def test_every_bound_is_a_check_and_the_failures_are_their_reasons() -> None:
    checks = bound_checks(OK, BOUNDS, True)
    assert all_passed(checks)
    names = [c.name for c in checks]
    assert names[: len(LOG_ANOMALIES)] == list(LOG_ANOMALIES)
    assert {"log_start_offsets", "group g1 redeliveries", "min_acked_fraction"} <= set(names)
    assert names[-1] == "faults_rolled_back"
    bad = dataclasses.replace(OK, lost=2, acked=40)
    lines = [c.reason for c in bound_checks(bad, BOUNDS, False) if not c.passed]
    assert (
        lines
        == judge(bad, BOUNDS, False)
        == [
            "lost 2 > 0",
            "acked 40 of 100 sent",
            "a fault was not rolled back (results not trusted)",
        ]
    )


def test_nothing_sent_is_not_measured_and_fails() -> None:
    empty = dataclasses.replace(OK, sent=0, acked=0)
    floor = next(c for c in bound_checks(empty, BOUNDS, True) if c.name == "min_acked_fraction")
    assert floor.measured is None and not floor.passed
    assert judge(empty, BOUNDS, True) == ["acked 0 of 0 sent"]
