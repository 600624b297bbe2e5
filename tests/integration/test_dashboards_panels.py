"""Every Grafana panel and annotation expression, variables substituted, returns data
from the real Prometheus after real QUICK runs (Grafana itself cannot run here)."""

from __future__ import annotations

import pytest
from dashboard_exprs import expressions, substitute
from report_runs import run_once

from kafkaval.config import Settings
from kafkaval.prom_client import PromClient
from kafkaval.records import parse_iso

pytestmark = pytest.mark.integration

# Targets that are legitimately empty on the local (process) stack, with the reason.
# Anything else that returns nothing fails the test.
_NET = "no per-process network on the local stack (test_compose.py checks it)"
EMPTY_ON_LOCAL_STACK = {
    # Processes share the host network namespace: the exporter has no per-process network.
    "container_network_receive_bytes_total": _NET,
    "container_network_transmit_bytes_total": _NET,
    # Local processes have no memory limit (0), which the panel filters out.
    "container_spec_memory_limit_bytes": "no memory limit on local processes "
    "(test_compose.py checks it)",
}


# The Connect & Debezium dashboard needs the CDC pipeline running:
# test_dashboards_connect.py checks it over a `cdc load` run.
EXPRESSIONS = [e for e in expressions() if e[0] != "connect"]


@pytest.mark.parametrize(
    ("dashboard", "title", "expr"), EXPRESSIONS, ids=[f"{d}:{t}" for d, t, _ in EXPRESSIONS]
)
def test_panel_returns_data(
    dashboard: str, title: str, expr: str, stack_settings: Settings
) -> None:
    runs = run_once(stack_settings)
    record = runs.delivery if dashboard == "delivery" else runs.perf
    if dashboard in ("resources", "kafka-cluster"):
        start, _ = runs.window(runs.perf)
        _, end = runs.window(runs.delivery)
    else:
        start, end = runs.window(record)
    promql = substitute(expr, stack_settings.scrape_interval)
    series = PromClient(stack_settings.prometheus_url).query_range(
        promql, start, end, min_step=stack_settings.scrape_interval
    )
    points = sum(len(s.points) for s in series)
    if "kafkaval_chaos_fault_active" in expr and "> 0" in expr and not points:
        # The gauge is 1 only while a fault lasts; a fault shorter than two scrape
        # intervals may fall between scrapes. Longer ones must be seen.
        longest = max(
            (parse_iso(f["ended_at"]) - parse_iso(f["started_at"])).total_seconds()
            for e in runs.delivery["scenarios"].values()
            for f in e["faults"]
        )
        if longest < 2 * stack_settings.scrape_interval:
            pytest.skip(f"{title}: longest fault {longest:.1f} s fell between scrapes")
    if any(metric in expr for metric in EMPTY_ON_LOCAL_STACK) and not points:
        reason = next(r for m, r in EMPTY_ON_LOCAL_STACK.items() if m in expr)
        pytest.skip(f"{title}: {reason}")
    assert points, f"{dashboard} / {title}: no data for {promql}"
