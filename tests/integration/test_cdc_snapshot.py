"""The cdc-snapshot profile in QUICK mode: an exact count through a real Debezium snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cdc_fixtures import cdc_config, prom_last  # noqa: F401 (fixture)

from cdc.config import CdcConfig
from cdc.snapshot import run_snapshot
from kafkaval.config import Settings

pytestmark = [pytest.mark.integration, pytest.mark.cdc]


def test_quick_snapshot_exact_count(stack_settings: Settings, cdc_config: CdcConfig) -> None:  # noqa: F811
    record = run_snapshot(stack_settings, cdc_config, rows=5000, quick=True)
    r = record["results"]
    assert record["passed"], r["failures"]
    assert r["exact_count"] and r["rows_read"] == 5000 and r["snapshot_events"] == 5000
    assert r["rows_read_per_table"] == {"videos": 1500, "users": 500, "comments": 3000}
    assert r["other_events"] == {}
    assert 0 < r["snapshot_duration_seconds"] < 120
    assert r["snapshot_rows_per_second"] > 0
    assert r["time_to_all_consumed_seconds"] >= r["snapshot_read_seconds"]
    saved = json.loads(
        (Path(stack_settings.results_dir) / "latest-cdc-performance.json").read_text()
    )
    assert saved["profile"] == "cdc-snapshot" and saved["run_id"] == record["run_id"]
    # The run's counters reached Prometheus before it stopped (it waits for the scrape).
    committed = prom_last(
        stack_settings, 'kafkaval_cdc_changes_committed_total{scenario="cdc-snapshot"}'
    )
    consumed = prom_last(
        stack_settings, 'kafkaval_cdc_events_consumed_total{scenario="cdc-snapshot"}'
    )
    assert committed == 5000 and consumed == r["snapshot_events"]
