"""connector-restart on the real pipeline: SIGKILL and graceful restart within bounds,
and the live mutation check (offsets deleted while stopped) that must fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cdc_fixtures import cdc_config, prom_last, scrapes  # noqa: F401 (fixture)

from cdc import connect
from cdc.config import CdcConfig
from cdc.restart import RestartParams, run_connector_restart
from kafkaval.config import Settings

pytestmark = [pytest.mark.integration, pytest.mark.cdc]


def test_kill_and_graceful_restart_within_bounds(
    stack_settings: Settings,
    cdc_config: CdcConfig,  # noqa: F811
) -> None:
    record = run_connector_restart(
        stack_settings, cdc_config, RestartParams(rate=25, phase_seconds=12)
    )
    r = record["results"]
    assert record["passed"], (r["failures"], r["phases"]["kill"]["fault"])
    assert r["committed"] > 400 and r["missing"] == 0 and r["resnapshotted"] == 0
    assert r["delivered"] == r["committed"]
    assert r["phases"]["graceful"]["duplicates"] == 0
    assert r["phases"]["kill"]["duplicates"] <= r["phases"]["kill"]["duplicate_bound"]
    assert r["phases"]["kill"]["recovery_seconds"] > 0
    effect = r["phases"]["kill"]["fault"]["observed_effect"]  # the kill showed on the worker
    assert effect and effect["what"] and effect["how"], r["phases"]["kill"]
    # End-to-end latency from a live consumer: one figure per committed change read live.
    e2e = r["e2e_latency_seconds"]
    assert e2e["count"] >= r["committed"] * 0.5 and "note" not in e2e
    assert 0 < e2e["p50"] <= e2e["p99"] <= e2e["max"] < 300
    saved = json.loads((Path(stack_settings.results_dir) / "latest-cdc-delivery.json").read_text())
    assert saved["scenario"] == "connector-restart" and saved["passed"] is True
    # ... and joined the latest delivery run, where the reports read it.
    delivery = json.loads((Path(stack_settings.results_dir) / "latest-delivery.json").read_text())
    entry = delivery["scenarios"]["connector-restart"]
    assert entry["passed"] is True and entry["lost"] == 0
    assert entry["acked"] == r["committed"]
    assert [f["kind"] for f in entry["faults"]] == ["kill", "restart"]
    status = connect.ConnectClient(cdc_config.rest_url).status(cdc_config.connector_name)
    assert status["connector"]["state"] == "RUNNING"  # the worker is back
    # Live metrics: every committed change counted, the e2e histogram as many as read live.
    sel = '{scenario="connector-restart"}'
    committed = prom_last(stack_settings, f"kafkaval_cdc_changes_committed_total{sel}")
    assert committed == r["committed"], scrapes(stack_settings)
    assert prom_last(stack_settings, f"kafkaval_cdc_e2e_latency_seconds_count{sel}") == e2e["count"]


def test_mutation_deleted_offsets_make_the_check_fail(
    stack_settings: Settings,
    cdc_config: CdcConfig,  # noqa: F811
) -> None:
    record = run_connector_restart(
        stack_settings,
        cdc_config,
        RestartParams(rate=25, phase_seconds=10, mutation="delete-offsets", catch_up_timeout=30),
    )
    r = record["results"]
    assert not record["passed"]
    assert r["missing"] > 0 or r["resnapshotted"] > 0
    assert r["failures"]
