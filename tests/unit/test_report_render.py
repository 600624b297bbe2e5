"""Golden-file tests of both report templates: fixed query results, frozen clock.

Regenerate the golden files after an intended change with
``KAFKAVAL_UPDATE_GOLDEN=1 pytest tests/unit/test_report_render.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from report_fakes import FakeProm, fixture_totals

from kafkaval.prom_queries import QueryRunner
from report.render import build_delivery, build_performance

DATA = Path(__file__).parent / "data" / "report"
FROZEN = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
UPDATE = os.environ.get("KAFKAVAL_UPDATE_GOLDEN") == "1"


def _record(kind: str) -> dict:
    return json.loads((DATA / f"latest-{kind}.json").read_text())


def _golden(name: str, text: str) -> None:
    path = DATA / name
    if UPDATE:
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from its golden file"


def test_performance_report_matches_golden() -> None:
    collector = QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)
    rendered = build_performance(_record("performance"), collector, FROZEN, charts=False)
    assert rendered.filename == "performance-baseline.md"
    _golden("performance-baseline.golden.md", rendered.text)


def test_delivery_report_matches_golden() -> None:
    collector = QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)
    rendered = build_delivery(_record("delivery"), collector, FROZEN, charts=False)
    assert rendered.filename == "delivery-guarantees.md"
    _golden("delivery-guarantees.golden.md", rendered.text)


def test_performance_report_shows_numbers_and_mismatch() -> None:
    collector = QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)
    text = build_performance(_record("performance"), collector, FROZEN, charts=False).text
    # Prometheus p95 of the fake is 0.95 * 10 ms; the exact one from the record 9.3 ms.
    assert "| service (Prometheus) | 5 | 9.5 | 9.9 |" in text
    assert "| service (exact, run record) | 4.1 | 9.3 | 15.1 |" in text
    assert "| burst | consumed | 149,000 | 149,990 | **NO** | Prometheus lower" in text
    assert "**broker-cpu** (broker-0): CPU peak 93% of a core" in text
    assert "**outbuf-latency** (burst)" in text
    assert "**outbuf-latency** (throughput)" not in text


def test_performance_report_shows_the_workers_of_a_distributed_run() -> None:
    record = _record("performance")
    entry = record["profiles"]["throughput"]
    rows = [
        {"worker": i, "host": f"node-{i}", "sent": 100, "acked": 100, "failed": 0,
         "achieved_rate": 333.3, "service_p99_seconds": 0.0123, "cpu_seconds": 2.5,
         "max_rss_bytes": 200 * 2**20}
        for i in (1, 2, 3)
    ]  # fmt: skip
    entry.update(worker_results=rows, engine={"name": "swarm", "histogram_error_bound": 2**-10})
    collector = QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)
    text = build_performance(record, collector, FROZEN, charts=False).text
    assert "One run by 3 workers on swarm: counts are their exact sums" in text
    assert "merged histograms (within 0.10 % below" in text
    assert "| 2 | node-2 | 100 | 100 | 0 | 333.3 | 12.3 | 2.5 |" in text


def test_delivery_report_states_guarantee_and_missing_series() -> None:
    collector = QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)
    text = build_delivery(_record("delivery"), collector, FROZEN, charts=False).text
    assert (
        "at-least-once held: 0 of 120,000 acked messages lost; 314 redeliveries after the kill"
        in text
    )
    assert "| consumer-restart | redeliveries | — | 314 | **NO** | no series in Prometheus" in text
    assert "- +20.0 s → +25.5 s: kill on consumer-0; rolled back: yes" in text


def test_charts_are_png_and_linked() -> None:
    pytest.importorskip("matplotlib")
    collector = QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)
    rendered = build_delivery(_record("delivery"), collector, FROZEN, charts=True)
    assert set(rendered.images) == {"delivery-consumer-restart.png"}
    assert rendered.images["delivery-consumer-restart.png"].startswith(b"\x89PNG\r\n\x1a\n")
    assert "](delivery-consumer-restart.png)" in rendered.text


def test_crosscheck_sums_repetitions() -> None:
    record = _record("performance")
    entry = record["profiles"]["throughput"]
    # REPEAT=2: the counters of one process add both repetitions up.
    entry["repetitions"] = [{"sent": 30000, "acked": 30000}, {"sent": 30000, "acked": 30000}]
    entry["sent"] = entry["acked"] = 30000  # the median repetition's figures
    collector = QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)
    text = build_performance(record, collector, FROZEN, charts=False).text
    assert "| throughput | sent | 60,000 | 60,000 | yes |" in text
    assert "| throughput | acked | 60,000 | 60,000 | yes |" in text


def test_cdc_scenario_joins_the_delivery_report(tmp_path: Path) -> None:
    from cdc.restart_record import delivery_entry
    from kafkaval.config import load_settings
    from kafkaval.records import merge_scenario

    (tmp_path / "latest-delivery.json").write_text(json.dumps(_record("delivery")))
    cdc_record = {
        "run_id": "20261201T120000Z-cdc001",
        "passed": False,
        "started_at": "2026-12-01T11:59:00Z",
        "ended_at": "2026-12-01T12:30:00Z",
        "bound_rule": "kill: ...; graceful: 0 duplicates",
        "results": {
            "committed": 900,
            "missing": 2,
            "duplicates": 5,
            "indeterminate": 0,
            "resnapshotted": 0,
            "reordered": 1,
            "failures": ["2 committed changes missing"],
            "phases": {
                "kill": {"duplicate_bound": 40, "fault": {"kind": "kill", "target": "connect",
                         "started_at": "2026-12-01T12:10:00Z",
                         "ended_at": "2026-12-01T12:10:04Z", "rolled_back": True}},
                "graceful": {"duplicate_bound": 0},
            },
        },
    }  # fmt: skip
    merge_scenario(
        tmp_path, "connector-restart", delivery_entry(load_settings(environ={}), cdc_record)
    )
    merged = json.loads((tmp_path / "latest-delivery.json").read_text())
    before = _record("delivery")
    assert set(merged["scenarios"]) == set(before["scenarios"]) | {"connector-restart"}
    assert merged["passed"] is False  # one failed scenario fails the run
    assert merged["ended_at"] == "2026-12-01T12:30:00Z"
    entry = merged["scenarios"]["connector-restart"]
    assert (entry["acked"], entry["lost"], entry["log_duplicates"]) == (900, 2, 5)
    assert entry["bounds"] == {"lost": 0, "reordered": 0, "log_duplicates": 40}
    assert entry["reordered"] == 1
    # Not measured by a CDC run: None, never a 0 that would read as "none happened".
    assert entry["failed"] is entry["redeliveries"] is entry["failed_visible"] is None
    totals = {**fixture_totals(), ("connector-restart", "changes_committed"): 900}
    collector = QueryRunner(FakeProm(totals), scrape_interval=2.0)
    text = build_delivery(merged, collector, FROZEN, charts=False).text
    assert (
        "at-least-once VIOLATED: 2 of 900 acked messages lost; redeliveries not measured; "
        "5 log duplicates" in text
    )
    # Cross-checked against the CDC run's own counter, not the chaos counters.
    assert "| connector-restart | acked | 900 | 900 | yes |" in text
    assert not any("connector-restart | lost" in line for line in text.splitlines())
    assert "kill on connect; rolled back: yes" in text
    assert "| connector-restart | single | 900 | 2 | — | 5 | — | 1 | — | — | — | ❌ FAIL |" in text


def test_merge_without_a_delivery_run_starts_one(tmp_path: Path) -> None:
    from kafkaval.records import merge_scenario

    entry = {
        "passed": True,
        "started_at": "2026-12-01T10:00:00Z",
        "ended_at": "2026-12-01T10:05:00Z",
    }
    merge_scenario(tmp_path, "connector-restart", entry)
    record = json.loads((tmp_path / "latest-delivery.json").read_text())
    assert record["kind"] == "delivery" and record["passed"] is True
    assert record["scenarios"] == {"connector-restart": entry}
    assert not list(tmp_path.glob("*.tmp*"))


def test_merge_keeps_a_failed_suite_failed(tmp_path: Path) -> None:
    from kafkaval.records import merge_scenario

    window = {"started_at": "2026-12-01T10:00:00Z", "ended_at": "2026-12-01T10:00:05Z"}
    failed_suite = {"run_id": "r1", "kind": "delivery", "passed": False, "scenarios": {}, **window}
    (tmp_path / "latest-delivery.json").write_text(json.dumps(failed_suite))
    ok = {"passed": True, "started_at": "2026-12-01T10:01:00Z", "ended_at": "2026-12-01T10:02:00Z"}
    merge_scenario(tmp_path, "connector-restart", ok)
    merge_scenario(tmp_path, "connector-restart", ok)  # a rerun replaces, never doubles
    record = json.loads((tmp_path / "latest-delivery.json").read_text())
    assert record["passed"] is False and record["merged"] == ["connector-restart"]
