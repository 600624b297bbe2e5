"""The "Trend and regressions" section from run records on disk."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from report_fakes import FakeProm, fixture_totals

from kafkaval.prom_queries import QueryRunner
from report.render import build_performance
from report.trend import chart_series, collect_trend
from scheduler.baseline import accept

DATA = Path(__file__).parent / "data" / "report"
FROZEN = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def _history(tmp_path: Path) -> list[str]:
    """Three performance runs whose snapshot rate falls 1000 -> 950 -> 800 msg/s."""
    base = json.loads((DATA / "latest-performance.json").read_text())
    ids = []
    for i, rate in enumerate((1000.0, 950.0, 800.0)):
        record = json.loads(json.dumps(base))
        record["run_id"] = f"20261201T10{i}000Z-trend{i}"
        record["quick"] = i == 2  # the newest one is a QUICK run
        snapshot = record["profiles"].setdefault("snapshot", {})
        snapshot.update({"achieved_rate": rate, "repetitions": [{"achieved_rate": rate}]})
        (tmp_path / f"performance-{record['run_id']}.json").write_text(json.dumps(record))
        ids.append(record["run_id"])
    return ids


def test_trend_lists_each_run_the_baseline_and_the_verdict(tmp_path: Path) -> None:
    ids = _history(tmp_path)
    accept(tmp_path, [ids[0]])
    verdict = {"metric": "performance.snapshot.achieved_rate", "decision": "regression",
               "effect": 0.2, "ci_low": 0.15, "ci_high": 0.25}  # fmt: skip
    scheduled = {"run_id": "20261201T110000Z-sched1", "kind": "scheduled", "job": "nightly",
                 "verdicts": [verdict]}  # fmt: skip
    (tmp_path / "scheduled-20261201T110000Z-sched1.json").write_text(json.dumps(scheduled))
    (tmp_path / "performance-20261201T120000Z-torn00.json").write_text("{not json")

    trend = collect_trend(tmp_path)
    assert [r["run_id"] for r in trend["runs"]] == ids
    assert trend["skipped"] == 1 and trend["baseline_ids"] == [ids[0]]
    row = next(r for r in trend["rows"] if r["metric"] == "performance.snapshot.achieved_rate")
    assert row["values"] == [1000.0, 950.0, 800.0] and row["baseline"] == 1000.0
    assert row["verdict"]["decision"] == "regression"
    snapshot = next(
        s for s in chart_series(trend, limit=50) if "snapshot.achieved" in s["labels"]["name"]
    )
    assert snapshot["v"] == [1.0, 0.95, 0.8]

    collector = QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)
    record = json.loads((DATA / "latest-performance.json").read_text())
    text = build_performance(record, collector, FROZEN, charts=False, trend=trend).text
    assert "## Trend and regressions" in text
    assert f"Baseline: {ids[0]}." in text
    assert (
        "| performance.snapshot.achieved_rate | 1000 | 950 | 800 | 1000 | regression "
        "(effect 20%, positive = worse; interval 15% .. 25%) |" in text
    )
    assert "1 damaged run record(s) skipped" in text
    assert "| 20261201T100000 | 20261201T101000 | 20261201T102000 (QUICK) |" in text


def test_no_history_says_so(tmp_path: Path) -> None:
    trend = collect_trend(tmp_path)
    assert trend["runs"] == [] and trend["rows"] == [] and chart_series(trend) == []


def test_trend_shows_the_change_point_where_the_step_happened(tmp_path: Path) -> None:
    base = json.loads((DATA / "latest-performance.json").read_text())
    rates = [1000, 1010, 990, 1005, 995, 1002, 998, 800, 810, 790, 805, 795, 802]
    for i, rate in enumerate(rates):
        record = json.loads(json.dumps(base))
        record["run_id"] = f"20261201T1{i:02d}000Z-step{i:02d}"
        record["quick"] = False
        snapshot = record["profiles"].setdefault("snapshot", {})
        snapshot.update({"achieved_rate": float(rate), "repetitions": [{"achieved_rate": rate}]})
        (tmp_path / f"performance-{record['run_id']}.json").write_text(json.dumps(record))
    trend = collect_trend(tmp_path)
    assert len(trend["runs"]) == 10 and trend["history_runs"] == 13
    found = {c["metric"]: c for c in trend["change_points"]}
    step = found["performance.snapshot.achieved_rate"]
    assert step["decision"] == "regression" and "from run 20261201T107000Z-step07" in step["reason"]
    assert step["n_baseline"] == 7 and step["n_candidate"] == 6
    collector = QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)
    text = build_performance(base, collector, FROZEN, charts=False, trend=trend).text
    assert "Change points over the last 13 run(s)" in text
    assert "| performance.snapshot.achieved_rate | 7 | 6 | 1000 | 801 | 20% |" in text
