"""The delivery report: each scenario over its own window; each fault's observed effect shown."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

from report_fakes import FakeProm, fixture_totals

from kafkaval.prom_queries import QueryRunner
from report.delivery import collect_delivery
from report.render import build_delivery

DATA = Path(__file__).parent / "data" / "report"
FROZEN = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def _suite() -> dict:
    """Two 60 s scenarios in a 263 s suite; the second one's fault has no observed effect."""
    record = json.loads((DATA / "latest-delivery.json").read_text())
    first = record["scenarios"]["consumer-restart"]
    second = copy.deepcopy(first)
    second.update(started_at="2026-12-01T11:03:00.000Z", ended_at="2026-12-01T11:04:00.000Z")
    second["faults"] = [
        {
            "kind": "kill",
            "target": "broker-2",
            "started_at": "2026-12-01T11:03:10.000Z",
            "ended_at": "2026-12-01T11:03:14.000Z",
            "rolled_back": True,
            "observed_effect": None,
        }
    ]
    record["scenarios"]["broker-kill"] = second
    record["ended_at"] = "2026-12-01T11:04:23.000Z"
    return record


def _collector() -> QueryRunner:
    return QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)


def test_each_scenario_is_reported_over_its_own_window() -> None:
    ctx = collect_delivery(_suite(), _collector(), charts=False)
    windows = {s["key"]: s["window"] for s in ctx["scenarios"]}
    # 60 s each plus the scrape padding (2 intervals + 1 s), not the suite's 263 s.
    assert windows["consumer-restart"]["seconds"] == 65
    assert windows["broker-kill"]["seconds"] == 65
    assert windows["broker-kill"]["start"] == datetime(2026, 12, 1, 11, 3, tzinfo=UTC)
    faults = {s["key"]: s["faults"] for s in ctx["scenarios"]}
    assert (faults["broker-kill"][0]["start_offset"], faults["broker-kill"][0]["end_offset"]) == (
        10.0,
        14.0,
    )


def test_a_scenario_without_its_own_times_falls_back_to_the_run_window() -> None:
    record = _suite()
    del record["scenarios"]["broker-kill"]["started_at"]
    ctx = collect_delivery(record, _collector(), charts=False)
    window = {s["key"]: s["window"] for s in ctx["scenarios"]}["broker-kill"]
    assert window["start"] == datetime(2026, 12, 1, 11, 0, tzinfo=UTC)


def test_the_fault_timeline_shows_each_fault_observed_effect() -> None:
    text = build_delivery(_suite(), _collector(), FROZEN, charts=False).text
    assert (
        "  - observed effect: group kafkaval-g1 rebalanced (generation 3 -> 4), 1.2 s after the "
        "fault started (2026-12-01T11:00:21.200Z); measured by consumer group generation from "
        "the admin API, every 0.2 s" in text
    )
    assert "- +10.0 s → +14.0 s: kill on broker-2; rolled back: yes" in text
    assert "  - observed effect: **no effect observed**" in text
    assert "Window 2026-12-01 11:03:00 UTC → 2026-12-01 11:04:05 UTC (65 s)." in text
