"""Every panel and annotation expression of the Connect & Debezium dashboard returns data
from the real Prometheus over a real ``cdc load`` run (Grafana itself cannot run here)."""

from __future__ import annotations

from typing import Any

import pytest
from cdc_fixtures import cdc_config  # noqa: F401 (fixture)
from dashboard_exprs import expressions, substitute

from cdc.changes import ChangeMix
from cdc.config import CdcConfig
from cdc.load import LoadParams, run_cdc_load
from kafkaval.config import Settings
from kafkaval.prom_client import PromClient
from kafkaval.records import parse_iso

pytestmark = [pytest.mark.integration, pytest.mark.cdc]

EXPRESSIONS = [e for e in expressions() if e[0] == "connect"]
_RUN: dict[str, Any] = {}


def _load_window(settings: Settings, cfg: CdcConfig) -> tuple[float, float]:
    """The window of one short ``cdc load`` (run once for all expressions)."""
    if not _RUN:
        params = LoadParams(rate=20, duration=4, mix=ChangeMix.parse("60:30:10"))
        _RUN["record"] = run_cdc_load(settings, cfg, params)
    record = _RUN["record"]
    return (
        parse_iso(record["started_at"]).timestamp(),
        parse_iso(record["ended_at"]).timestamp() + 6.0,
    )


@pytest.mark.parametrize(("title", "expr"), [(t, e) for _d, t, e in EXPRESSIONS])
def test_connect_panel_returns_data(
    title: str,
    expr: str,
    stack_settings: Settings,
    cdc_config: CdcConfig,  # noqa: F811
) -> None:
    start, end = _load_window(stack_settings, cdc_config)
    promql = substitute(expr, stack_settings.scrape_interval)
    series = PromClient(stack_settings.prometheus_url).query_range(
        promql, start, end, min_step=stack_settings.scrape_interval
    )
    if "kafkaval_chaos_fault_active" in expr and not sum(len(s.points) for s in series):
        pytest.skip(f"{title}: no fault during a cdc load (the delivery dashboard test checks it)")
    if "RowsScanned" in expr and not sum(len(s.points) for s in series):
        # Debezium fills RowsScanned only in a worker that ran a snapshot; one
        # restarted since (connector-restart) resumes from its offsets instead.
        done = PromClient(stack_settings.prometheus_url).query(
            'max(debezium_metrics_SnapshotCompleted{context="snapshot"})', at=end
        )
        if done and done[0].value == 0:
            pytest.skip(f"{title}: no snapshot in this Connect worker's life")
    assert sum(len(s.points) for s in series), f"connect / {title}: no data for {promql}"
