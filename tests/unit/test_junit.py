"""JUnit XML from run records: parsed back, one testcase per check."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from kafkaval.errors import KafkavalError, UsageError
from kafkaval.junit import delivery_cases, performance_cases, run_with_junit, write_junit

PERF = {
    "run_id": "20261202T180000Z-abc123",
    "kind": "performance",
    "started_at": "2026-12-02T18:00:00.000Z",
    "ended_at": "2026-12-02T18:01:00.000Z",
    "passed": False,
    "interrupted": False,
    "tags": {"branch": "main"},
    "profiles": {
        "throughput": {
            "passed": False,
            "started_at": "2026-12-02T18:00:00.000Z",
            "ended_at": "2026-12-02T18:00:12.500Z",
            "thresholds": {
                "max_failed": {"expr": "failed <= 0", "limit": 0, "value": 0, "passed": True},
                "p99(e2e) < 50ms": {
                    "expr": "p99(e2e) < 50ms",
                    "limit": 0.05,
                    "value": 0.0625,
                    "passed": False,
                },
                "rate": {
                    "expr": "rate(achieved)/rate(target) >= 0.99",
                    "limit": 0.99,
                    "value": None,
                    "passed": False,
                    "reason": "not measured: achieved_rate",
                },
            },
        },
        "startup": {"passed": True, "thresholds": {}},
    },
}


def _parse(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    return root


def _cases(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    return {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}  # type: ignore[misc]


def test_performance_record_gives_a_case_per_profile_and_threshold(tmp_path: Path) -> None:
    path = tmp_path / "out" / "junit.xml"
    run_with_junit(str(path), "performance", lambda: PERF)
    root = _parse(path)
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "kafkaval.performance"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "3", "0")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["run_id"] == PERF["run_id"] and props["tag.branch"] == "main"
    cases = _cases(root)
    assert set(cases) == {
        ("performance", "run"),
        ("performance.throughput", "profile"),
        ("performance.throughput", "threshold max_failed"),
        ("performance.throughput", "threshold p99(e2e) < 50ms"),
        ("performance.throughput", "threshold rate"),
        ("performance.startup", "profile"),
    }
    assert cases[("performance.throughput", "profile")].get("time") == "12.500"
    failure = cases[("performance.throughput", "threshold p99(e2e) < 50ms")].find("failure")
    assert failure is not None
    assert failure.get("message") == "p99(e2e) < 50ms: measured 0.0625, limit 0.05"
    rate = cases[("performance.throughput", "threshold rate")].find("failure")
    assert rate is not None and "measured not measured, limit 0.99" in rate.get("message", "")
    assert "not measured: achieved_rate" in rate.get("message", "")
    assert cases[("performance.throughput", "threshold max_failed")].find("failure") is None
    assert cases[("performance", "run")].find("failure") is None
    assert list(tmp_path.joinpath("out").iterdir()) == [path]  # no temporary file left


def test_an_aborted_run_fails_its_run_case() -> None:
    aborted = {
        "profile": "throughput",
        "threshold": "max_failed",
        "expr": "failed <= 0",
        "value": 3.0,
        "limit": 0.0,
    }
    run = performance_cases({**PERF, "aborted": aborted})[0]
    assert run.failure == (
        "aborted: threshold max_failed (failed <= 0) lost in throughput: measured 3, limit 0"
    )


def test_delivery_record_gives_a_case_per_scenario_and_bound() -> None:
    record = {
        "kind": "delivery",
        "scenarios": {
            "broker-restart": {
                "passed": False,
                "duration_seconds": 20.5,
                "sent": 100,
                "acked": 40,
                "lost": 2,
                "log_duplicates": 0,
                "groups": {"g1": {"missing": 0, "redeliveries": 7}},
                "faults": [{"kind": "kill", "rolled_back": True}],
                "bounds": {
                    "lost": 0,
                    "log_duplicates": 0,
                    "missing_per_group": 0,
                    "redeliveries_per_group": 5,
                    "faults_rolled_back": True,
                    "min_acked_fraction": 0.5,
                },
                "failures": ["lost 2 > 0", "group g1 redeliveries 7 > 5", "acked 40 of 100 sent"],
            }
        },
    }
    cases = {(c.name): c for c in delivery_cases(record) if c.classname != "delivery"}
    assert set(cases) == {
        "scenario",
        "bound lost",
        "bound log_duplicates",
        "bound missing_per_group g1",
        "bound redeliveries_per_group g1",
        "bound faults_rolled_back",
        "bound min_acked_fraction",
    }
    assert (
        cases["scenario"].failure == "lost 2 > 0; group g1 redeliveries 7 > 5; acked 40 of 100 sent"
    )
    assert cases["scenario"].seconds == 20.5
    assert cases["bound lost"].failure == "lost <= 0: measured 2, limit 0"
    assert cases["bound redeliveries_per_group g1"].failure == (
        "redeliveries <= 5: measured 7, limit 5"
    )
    assert cases["bound min_acked_fraction"].failure == (
        "acked / sent >= 0.5: measured 0.4, limit 0.5"
    )
    for ok in ("bound log_duplicates", "bound missing_per_group g1", "bound faults_rolled_back"):
        assert cases[ok].failure is None, ok
    # The bound cases agree with the scenario's own verdict.
    passed = {**record["scenarios"]["broker-restart"], "passed": True, "lost": 0, "acked": 90,
              "groups": {"g1": {"missing": 0, "redeliveries": 5}}, "failures": []}  # fmt: skip
    assert all(c.failure is None for c in delivery_cases({"scenarios": {"s": passed}}))


def test_a_broken_run_leaves_one_error_case_and_a_usage_error_none(tmp_path: Path) -> None:
    path = tmp_path / "j.xml"

    def broken() -> dict:
        raise KafkavalError("preflight: the broker at 127.0.0.1:1 does not answer")

    with pytest.raises(KafkavalError):
        run_with_junit(str(path), "delivery", broken)
    error = _parse(path).find("testsuite/testcase/error")
    assert error is not None and "does not answer" in error.get("message", "")

    def usage() -> dict:
        raise UsageError("bad flag")

    other = tmp_path / "u.xml"
    with pytest.raises(UsageError):
        run_with_junit(str(other), "delivery", usage)
    assert not other.exists()


def test_an_unwritable_path_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(KafkavalError, match="cannot write JUnit XML to .*fix --junit"):
        write_junit(tmp_path / "file" / "j.xml", "s", [])


def test_error_case_redacts_the_settings_secrets(tmp_path: Path) -> None:
    path = tmp_path / "j.xml"

    def broken() -> dict[str, Any]:
        raise KafkavalError("broker said no to password hunter2")

    with pytest.raises(KafkavalError):
        run_with_junit(str(path), "delivery", broken, ["hunter2"])
    text = path.read_text()
    assert "hunter2" not in text and "broker said no" in text


def test_delivery_cases_take_the_bounds_the_checker_writes() -> None:
    # bounds_for writes redeliveries_per_group as a mapping group -> bound and a
    # "why" table: the JUnit cases must judge both shapes, not crash on them.
    from chaos.bounds import bounds_for
    from chaos.catalog import SCENARIOS

    scenario = SCENARIOS["consumer-restart"]
    bounds = bounds_for(scenario, {g: 3 for g in scenario.groups})
    group = scenario.groups[0]
    entry = {
        "passed": False,
        "sent": 10,
        "acked": 10,
        "groups": {group: {"missing": 0, "redeliveries": 4, "poll_skip": 0}},
        "faults": [],
        "bounds": bounds,
        "failures": [f"group {group} redeliveries 4 > 3"],
    }
    cases = {c.name: c for c in delivery_cases({"scenarios": {"s": entry}})}
    assert cases[f"bound redeliveries_per_group {group}"].failure == (
        "redeliveries <= 3: measured 4, limit 3"
    )
    assert cases[f"bound poll_skip_per_group {group}"].failure is None
    assert cases[f"bound missing_per_group {group}"].failure is None
