"""``cdc load`` on the real pipeline: a rate-driven change mix, exact and measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cdc_fixtures import cdc_config, prom_last, scrapes  # noqa: F401 (fixture)

from cdc.changes import ChangeMix
from cdc.config import CdcConfig
from cdc.load import LoadParams, run_cdc_load
from kafkaval.config import Settings
from kafkaval.errors import UsageError
from kafkaval.prom_client import PromClient
from kafkaval.prom_queries import QueryRunner
from kafkaval.waiting import wait_until
from report.cdc import collect_cdc

pytestmark = [pytest.mark.integration, pytest.mark.cdc]


def test_load_at_rate_arrives_exactly_once_with_latency(
    stack_settings: Settings,
    cdc_config: CdcConfig,  # noqa: F811
) -> None:
    # The rate bound is generous: a CI host that stalled the database for a
    # moment committed 48.8/s of 50 over these 6 s. Pacing is the driver's
    # business; this test is about every change arriving exactly once.
    params = LoadParams(rate=50, duration=6, mix=ChangeMix.parse("40:40:20"), min_rate_fraction=0.8)
    prom = PromClient(stack_settings.prometheus_url)
    seen = 'debezium_metrics_TotalNumberOfEventsSeen{job="kafka-connect",context="streaming"}'
    assert wait_until(lambda: bool(prom.query(seen)), 60, 0.5), "Debezium not scraped"
    seen_before = prom.query(seen)[0].value
    record = run_cdc_load(stack_settings, cdc_config, params)
    r = record["results"]
    assert record["passed"], r["failures"]
    # Every committed change (a schedule of 50/s for 6 s) found once in its topic.
    assert 240 <= r["committed"] <= 301 and r["missing"] == 0 and r["duplicates"] == 0
    assert r["delivered"] == r["committed"] and r["achieved_rate"] >= 40
    assert record["parameters"]["min_rate_fraction"] == 0.8
    assert r["tombstones"] > 0  # the mix's deletes arrived as delete events + tombstones
    e2e, lag = r["e2e_latency_seconds"], r["connector_lag_seconds"]
    assert e2e["count"] >= r["committed"] * 0.9 and "note" not in e2e
    assert 0 < e2e["p50"] <= e2e["p99"] <= e2e["max"] < 60
    assert lag["count"] >= r["committed"] and 0 <= lag["p50"] <= e2e["max"]
    saved = json.loads((Path(stack_settings.results_dir) / "latest-cdc-load.json").read_text())
    assert saved["run_id"] == record["run_id"] and saved["kind"] == "cdc-load"
    sel = '{scenario="cdc-load"}'
    committed = prom_last(stack_settings, f"kafkaval_cdc_changes_committed_total{sel}")
    assert committed == r["committed"], scrapes(stack_settings)
    # Debezium's own view (JMX exporter on the Connect worker) moved with the load:
    # it saw every committed change, and knows how far behind its source it is.
    got: list[float] = []

    def all_seen() -> bool:
        got[:] = [x.value for x in prom.query(seen)]
        return bool(got) and got[0] - seen_before >= r["committed"]

    assert wait_until(all_seen, 60, 0.5), (seen_before, got, r["committed"])
    behind = prom.query(
        'debezium_metrics_MilliSecondsBehindSource{job="kafka-connect",context="streaming"}'
    )
    assert len(behind) == 1 and 0 <= behind[0].value < 60_000
    # The performance report's Debezium section shows this run from the real
    # Prometheus: its committed total agrees, Debezium's lag is the connector's.
    runner = QueryRunner(prom, stack_settings.scrape_interval)
    section = collect_cdc(Path(stack_settings.results_dir), runner)
    (load,) = [run for run in section["runs"] if run["name"] == "load"]
    assert load["run_id"] == record["run_id"] and load["exact"] and not load["record_only"]
    assert load["count"] == r["committed"] and load["all_consumed_seconds"] is not None
    assert [c["ok"] for c in load["crosscheck"]] == [True], load["crosscheck"]
    lag_max = load["debezium_behind_max_seconds"]
    assert lag_max is not None and 0 <= lag_max < 60, load


def test_bad_rate_is_refused_before_anything_runs(
    stack_settings: Settings,
    cdc_config: CdcConfig,  # noqa: F811
) -> None:
    with pytest.raises(UsageError, match="rate"):
        run_cdc_load(stack_settings, cdc_config, LoadParams(rate=-1))
