"""The performance report's Debezium pipeline section, from CDC run records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from report_fakes import FakeProm, fixture_totals

from kafkaval.prom_queries import QueryRunner
from kafkaval.records import record_header, save_run_record
from report.cdc import collect_cdc
from report.render import build_performance

DATA = Path(__file__).parent / "data" / "report"
FROZEN = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
START = datetime(2026, 12, 1, 11, 0, 0, tzinfo=UTC)


def _save(results: Path, kind: str, run_id: str, results_part: dict) -> None:
    record = {
        **record_header(kind, run_id, START, START + timedelta(seconds=40)),
        "results": results_part,
        "passed": not results_part.get("failures"),
    }
    save_run_record(results, record)


def _runs(results: Path) -> None:
    _save(results, "cdc-performance", "20261201T110000Z-snap01", {
        "rows_expected": 20000, "snapshot_events": 20000, "snapshot_rows_per_second": 812.5,
        "time_to_all_consumed_seconds": 24.6, "exact_count": True, "failures": [],
        "other_events": {"u": 2},
    })  # fmt: skip
    _save(results, "cdc-load", "20261201T110000Z-load01", {
        "committed": 3000, "events_read": 3000, "missing": 0, "duplicates": 0,
        "achieved_rate": 99.8, "catch_up_seconds": 1.4, "caught_up": True,
        "e2e_latency_seconds": {"p50": 0.012, "p99": 0.081},
        "connector_lag_seconds": {"p50": 0.004, "p99": 0.030},
        "failures": [],
    })  # fmt: skip


def test_the_section_shows_each_cdc_run_with_its_cross_check(tmp_path: Path) -> None:
    _runs(tmp_path)
    totals = {
        **fixture_totals(),
        ("cdc-snapshot", "changes_committed"): 20000,
        ("cdc-snapshot", "consumed"): 19990,  # a missed final scrape
        ("cdc-load", "changes_committed"): 3000,
    }
    runner = QueryRunner(FakeProm(totals), scrape_interval=2.0)
    cdc = collect_cdc(tmp_path, runner)
    assert [c["name"] for c in cdc["runs"]] == ["snapshot", "load"] and cdc["notes"] == []
    perf = json.loads((DATA / "latest-performance.json").read_text())
    text = build_performance(perf, runner, FROZEN, charts=False, cdc=cdc).text
    section = text[text.index("## Debezium pipeline") : text.index("## Trend and regressions")]
    assert "| snapshot `20261201T110000Z-snap01` | ✅ PASS |" in section
    assert "| 20,000 | 812.5 rows/s | 24.6 s | — / — | — | — | yes |" in section
    assert "| 3,000 | 99.8 changes/s | 1.4 s | 12 / 81 | 30 |" in section
    assert "| snapshot | rows to carry | 20,000 | 20,000 | yes |" in section
    # Every event the snapshot's reader counted: the reads and the 2 updates.
    assert (
        "| snapshot | change events consumed | 19,990 | 20,002 | **NO** | Prometheus lower"
        in section
    )
    assert "| load | changes committed | 3,000 | 3,000 | yes |" in section


def test_a_missing_or_damaged_cdc_run_is_a_note_never_a_failed_report(tmp_path: Path) -> None:
    (tmp_path / "latest-cdc-load.json").write_text("{not json")
    runner = QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)
    cdc = collect_cdc(tmp_path, runner)
    assert cdc["runs"] == []
    assert cdc["notes"][0] == "no snapshot run yet (kafkaval cdc snapshot)"
    assert cdc["notes"][1].startswith("load run not shown: run record")
    perf = json.loads((DATA / "latest-performance.json").read_text())
    text = build_performance(perf, runner, FROZEN, charts=False, cdc=cdc).text
    assert "- no snapshot run yet (kafkaval cdc snapshot)" in text


def test_a_load_that_did_not_catch_up_shows_no_time_and_a_misshapen_record_is_a_note(
    tmp_path: Path,
) -> None:
    _save(tmp_path, "cdc-load", "20261201T110000Z-load02", {
        "committed": 3000, "events_read": 2000, "missing": 1000, "duplicates": 0,
        "achieved_rate": 99.8, "catch_up_seconds": 120.0, "caught_up": False,
        "failures": ["1000 changes missing"],
    })  # fmt: skip
    runner = QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)
    (load,) = collect_cdc(tmp_path, runner)["runs"]
    assert load["all_consumed_seconds"] is None and load["exact"] is False
    assert load["failures"] == ["1000 changes missing"]
    record = json.loads((tmp_path / "latest-cdc-load.json").read_text())
    record["results"] = ["not", "a", "table"]
    (tmp_path / "latest-cdc-load.json").write_text(json.dumps(record))
    cdc = collect_cdc(tmp_path, runner)
    assert cdc["runs"] == [] and "does not have a cdc-load record's shape" in cdc["notes"][1]
