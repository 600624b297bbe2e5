"""Gating CI against the real stack: a workload file, threshold expressions,
--junit, --tag and --abort-on-fail through the ``kafkaval`` command."""

from __future__ import annotations

import dataclasses
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from ports import free_port
from report_runs import kafkaval, run_once, wait_for

from kafkaval.config import Settings
from kafkaval.junit import delivery_cases, performance_cases
from kafkaval.records import parse_iso, record_schema

pytestmark = pytest.mark.integration

WORKLOAD = """
name = "gating"
description = "a short gate: 300 msg/s for 2 s"

[[phases]]
count = {count}
rate = 300

[records]
size = 512
payload = "raw"

[topics]
names = ["kafkaval.gating.{suffix}"]
partitions = 2

[thresholds]
no_failures = "failed == 0"
e2e = "p99(e2e) < 30s"
rate = "rate(achieved) / rate(target) >= 0.5"
"""


@pytest.fixture
def gate_settings(stack_settings: Settings, tmp_path: Path) -> Settings:
    # Own metrics port and results: other sessions on this machine use the fixed ones.
    return dataclasses.replace(
        stack_settings, metrics_port=free_port(), results_dir=str(tmp_path / "results")
    )


def _cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {str(c.get("name")): c for c in root.iter("testcase")}


def _query(settings: Settings, promql: str) -> list[dict[str, Any]]:
    r = requests.get(
        f"{settings.prometheus_url}/api/v1/query", params={"query": promql}, timeout=10
    )
    r.raise_for_status()
    return r.json()["data"]["result"]


def test_workload_file_thresholds_junit_and_tags(gate_settings: Settings, tmp_path: Path) -> None:
    workload = tmp_path / "gating.toml"
    workload.write_text(WORKLOAD.format(count=600, suffix="a"))
    junit = tmp_path / "junit.xml"
    proc = kafkaval(
        gate_settings, "perf", "run", "--workload", str(workload), "--no-progress",
        "--threshold", "sent == acked + failed",
        # Fails on purpose: the exit code and the JUnit file must follow it.
        "--threshold", "consumed > 1000000",
        "--junit", str(junit), "--tag", "ci_branch=gating-test", "--tag", "env=it",
        timeout=240,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "performance suite FAILED" in out and "tags: ci_branch=gating-test, env=it" in out

    record = json.loads((Path(gate_settings.results_dir) / "latest-performance.json").read_text())
    jsonschema.validate(record, record_schema())
    assert record["tags"] == {"ci_branch": "gating-test", "env": "it"}
    p = record["profiles"]["gating"]
    assert list(record["profiles"]) == ["gating"]
    assert p["sent"] == p["acked"] == p["consumed"] == 600, out
    assert p["parameters"]["topics"] == ["kafkaval.gating.a"] and p["parameters"]["partitions"] == 2
    checks = p["thresholds"]
    assert {k: c["passed"] for k, c in checks.items()} == {
        "no_failures": True,
        "e2e": True,
        "rate": True,
        "sent == acked + failed": True,
        "consumed > 1000000": False,
    }, checks
    assert checks["consumed > 1000000"]["value"] == 600

    cases = _cases(junit)
    assert set(cases) == {
        "run",
        "profile",
        "threshold no_failures",
        "threshold e2e",
        "threshold rate",
        "threshold sent == acked + failed",
        "threshold consumed > 1000000",
    }
    failure = cases["threshold consumed > 1000000"].find("failure")
    assert failure is not None
    assert failure.get("message") == "consumed > 1000000: measured 600, limit 1e+06"
    assert cases["threshold e2e"].find("failure") is None

    # The tags are labels on the run's series (the endpoint lingered for the final scrape).
    selector = '{ci_branch="gating-test",env="it",profile="gating"}'
    expr = f"sum(last_over_time(kafkaval_loadgen_messages_acked_total{selector}[10m]))"
    wait_for(lambda: _query(gate_settings, expr), 30, f"{expr} in Prometheus")
    assert float(_query(gate_settings, expr)[0]["value"][1]) == 600


# (how the run goes wrong, extra arguments, the threshold that must stop it)
ABORTS = {
    # About 1 record in 100 is larger than the broker takes (the client is
    # told to send it): failed passes 0 within the first second.
    "failed-send": (
        '[records]\nsizes = [512, 1200000]\nweights = [99, 1]\npayload = "raw"\n'
        '[producer]\n"message.max.bytes" = 4000000\n',
        ["--producer-prop", "enable.idempotence=false"],
        "no_failures",
        "failed == 0",
    ),
    # No real message is consumed within 1 µs: the first one loses the maximum.
    "latency": ("", ["--threshold", "max(e2e) < 1us"], "max(e2e) < 1us", "max(e2e) < 1us"),
}


@pytest.mark.parametrize("case", list(ABORTS))
def test_abort_on_fail_stops_at_the_first_lost_threshold(
    case: str, gate_settings: Settings, tmp_path: Path
) -> None:
    records, extra, name, expr = ABORTS[case]
    workload = tmp_path / "gating.toml"
    text = WORKLOAD.format(count=6000, suffix=f"abort-{case}")  # 20 s planned
    if records:
        text = text.replace('[records]\nsize = 512\npayload = "raw"\n', records)
    workload.write_text(text)
    junit = tmp_path / "junit.xml"
    began = time.monotonic()
    proc = kafkaval(
        gate_settings, "perf", "run", "--workload", str(workload), "--no-progress",
        "--abort-on-fail", "--junit", str(junit), *extra,
        timeout=240,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert f"aborted: threshold {name} ({expr}) lost" in out
    record = json.loads((Path(gate_settings.results_dir) / "latest-performance.json").read_text())
    jsonschema.validate(record, record_schema())
    assert record["aborted"]["threshold"] == name and record["aborted"]["value"] > 0
    assert record["passed"] is False and record["interrupted"] is True
    p = record["profiles"]["gating"]
    assert 0 < p["sent"] < 6000, out
    assert p["thresholds"][name]["passed"] is False
    window = (parse_iso(p["ended_at"]) - parse_iso(p["started_at"])).total_seconds()
    assert window < 15, out
    assert time.monotonic() - began < 200
    run = _cases(junit)["run"].find("failure")
    assert run is not None and run.get("message", "").startswith(
        f"aborted: threshold {name} ({expr}) lost in gating"
    )


def test_real_records_of_both_suites_match_the_schema_and_their_junit(
    stack_settings: Settings,
) -> None:
    # The QUICK runs the report tests share (run once per session).
    runs = run_once(stack_settings)
    for record, cases in (
        (runs.perf, performance_cases(runs.perf)),
        (runs.delivery, delivery_cases(runs.delivery)),
    ):
        jsonschema.validate(record, record_schema())
        assert record["schema_version"] == 1
        # The JUnit cases fail exactly where the record says the run failed.
        entries = record.get("profiles") or record.get("scenarios")
        assert entries, record
        if record is runs.delivery:
            # The file `delivery run --junit` wrote has these very cases and verdicts.
            path = Path(runs.settings.results_dir) / "junit-delivery.xml"
            written = {
                (c.get("classname"), c.get("name"), c.find("failure") is None)
                for c in ET.parse(path).getroot().iter("testcase")
            }
            assert written == {(c.classname, c.name, c.failure is None) for c in cases}
        for key, entry in entries.items():
            own = [c for c in cases if c.classname.endswith("." + key)]
            assert len(own) > 1, (key, own)  # the entry's case and its checks
            assert (own[0].failure is None) is bool(entry["passed"]), (key, own[0])
            checks_held = all(c.failure is None for c in own[1:])
            assert checks_held or not entry["passed"], (key, own)
