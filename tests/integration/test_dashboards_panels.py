"""Every Grafana panel and annotation expression, variables substituted, returns data
from the real Prometheus after real QUICK runs (Grafana itself cannot run here)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from report_runs import run_once

from kafkaval.config import Settings
from kafkaval.records import parse_iso
from report.prom_client import PromClient

pytestmark = pytest.mark.integration

DASHBOARDS = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"

# Targets that are legitimately empty on the local (process) stack, with the reason.
# Anything else that returns nothing fails the test.
EMPTY_ON_LOCAL_STACK = {
    # Processes share the host network namespace: the exporter has no per-process network.
    "container_network_receive_bytes_total": "no per-process network on the local stack",
    "container_network_transmit_bytes_total": "no per-process network on the local stack",
    # Local processes have no memory limit (0), which the panel filters out.
    "container_spec_memory_limit_bytes": "no memory limit on local processes",
}


def _substitute(expr: str, scrape_interval: float) -> str:
    """What Grafana sends: variables at "All" (.*), $__rate_interval at 4 scrapes."""
    expr = expr.replace("$__rate_interval", f"{max(4 * scrape_interval, 4):g}s")
    return re.sub(r"\$\w+", ".*", expr)


def _expressions() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())
        panels: list[dict[str, Any]] = []
        for panel in dashboard["panels"]:
            panels += [panel, *panel.get("panels", [])]
        for panel in panels:
            for target in panel.get("targets", []):
                out.append((path.stem, f"{panel['title']} [{target['refId']}]", target["expr"]))
        for ann in dashboard["annotations"]["list"]:
            if ann.get("expr"):
                out.append((path.stem, f"annotation {ann['name']}", ann["expr"]))
        for var in dashboard["templating"]["list"]:
            query = var["query"]["query"]
            m = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
            assert m, f"unexpected variable query {query}"
            out.append((path.stem, f"variable {var['name']}", f"group by ({m[2]}) ({m[1]})"))
    return out


EXPRESSIONS = _expressions()


@pytest.mark.parametrize(
    ("dashboard", "title", "expr"), EXPRESSIONS, ids=[f"{d}:{t}" for d, t, _ in EXPRESSIONS]
)
def test_panel_returns_data(
    dashboard: str, title: str, expr: str, stack_settings: Settings
) -> None:
    runs = run_once(stack_settings)
    record = runs.delivery if dashboard == "delivery" else runs.perf
    if dashboard == "resources":
        start, _ = runs.window(runs.perf)
        _, end = runs.window(runs.delivery)
    else:
        start, end = runs.window(record)
    promql = _substitute(expr, stack_settings.scrape_interval)
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
