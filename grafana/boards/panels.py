"""What every kafkaval dashboard shares: the datasource and scope variables,
the project's limits, the grid layout of panels, the fault annotation and the
dashboard frame."""

from __future__ import annotations

from typing import Any

# Pinned in provisioning/datasources/prometheus.yml: the datasource variable's default.
DATASOURCE_UID = "kafkaval-prometheus"
DS = {"type": "prometheus", "uid": "${datasource}"}
# Every query's scrape-target filter (the job and instance variables).
SCOPE = 'job=~"$job",instance=~"$instance"'

# The project's limits, drawn on the panels that show them (loadgen/profiles.py,
# chaos bounds): p95 service latency under 100 ms; no acked message lost.
P95_LIMIT_SECONDS = 0.1
Thresholds = list[tuple[float | None, str]]
LATENCY_LIMIT: Thresholds = [(None, "green"), (P95_LIMIT_SECONDS, "red")]
LOST_LIMIT: Thresholds = [(None, "green"), (1, "red")]  # counts: > 0 is >= 1
# A verdict gauge (1 passed, 0 failed) shown as words.
PASS_FAIL = [
    {
        "type": "value",
        "options": {
            "1": {"text": "PASS", "color": "green", "index": 0},
            "0": {"text": "FAIL", "color": "red", "index": 1},
        },
    }
]


def _target(expr: str, legend: str, ref: str, fmt: str = "time_series") -> dict[str, Any]:
    return {
        "datasource": DS,
        "expr": expr,
        "legendFormat": legend,
        "refId": ref,
        "format": fmt,
    }


class Layout:
    """Places panels on Grafana's 24-column grid, two per row, and numbers them."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.x = 0
        self.y = 0

    def row(self, title: str) -> None:
        self.y += 0 if self.x == 0 else 8
        self.x = 0
        self.panels.append(
            {
                "type": "row",
                "title": title,
                "id": len(self.panels) + 1,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.y += 1

    def panel(
        self,
        title: str,
        targets: list[tuple[str, str]],
        unit: str = "short",
        kind: str = "timeseries",
        description: str = "",
        width: int = 12,
        thresholds: Thresholds | None = None,
        mappings: list[dict[str, Any]] | None = None,
    ) -> None:
        """Add a panel; ``thresholds`` (value, color) steps are drawn as lines on graphs
        and color stats; ``mappings`` turn values into words (PASS_FAIL)."""
        if self.x + width > 24:
            self.x, self.y = 0, self.y + 8
        refs = "ABCDEFGH"
        panel: dict[str, Any] = {
            "type": kind,
            "title": title,
            "description": description,
            "id": len(self.panels) + 1,
            "datasource": DS,
            "gridPos": {"h": 8, "w": width, "x": self.x, "y": self.y},
            "targets": [
                _target(expr, legend, refs[i], "heatmap" if kind == "heatmap" else "time_series")
                for i, (expr, legend) in enumerate(targets)
            ],
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            # Only a time series has a legend among these kinds (Grafana's stat has none).
            "options": (
                {"legend": {"displayMode": "list", "placement": "bottom"}}
                if kind == "timeseries"
                else {}
            ),
        }
        defaults = panel["fieldConfig"]["defaults"]
        if thresholds:
            defaults["thresholds"] = {
                "mode": "absolute",
                "steps": [{"value": v, "color": c} for v, c in thresholds],
            }
            if kind == "timeseries":
                defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
        if mappings:
            defaults["mappings"] = mappings
        if kind == "heatmap":
            panel["options"] = {
                "calculate": False,
                "yAxis": {"unit": unit},
                "color": {"mode": "scheme", "scheme": "Oranges"},
            }
        self.panels.append(panel)
        self.x += width
        if self.x >= 24:
            self.x, self.y = 0, self.y + 8


def faults_annotation(sel: str = "") -> dict[str, Any]:
    """An annotation over every active chaos fault (matching label selector ``sel``):
    the delivery dashboard, and the cluster dashboards, where a broker-side blip
    shows next to the fault that caused it."""
    return {
        "name": "Faults",
        "datasource": DS,
        "enable": True,
        "iconColor": "red",
        "expr": "max by (scenario, kind, target) (kafkaval_chaos_fault_active{" + sel + "}) > 0",
        "step": "2s",
        "titleFormat": "{{kind}} on {{target}}",
        "tagKeys": "scenario,kind",
        "textFormat": "fault active",
        "useValueForTime": False,
    }


def _datasource_var() -> dict[str, Any]:
    """The Prometheus every panel queries: the provisioned one, or the user's pick."""
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "Prometheus",
        "query": "prometheus",
        "current": {"text": "kafkaval Prometheus", "value": DATASOURCE_UID},
        "includeAll": False,
        "multi": False,
        "refresh": 1,
        "regex": "",
        "hide": 0,
    }


def scope_vars(metric: str, job: str | None = None) -> list[dict[str, Any]]:
    """``job`` and ``instance`` from the targets that serve ``metric``.

    Args:
        job: preselected job (else All), e.g. the exporter's where cAdvisor may
            serve the same series under another job.
    """
    jobs = query_var("job", "job", f"label_values({metric}, job)")
    if job:
        jobs["current"] = {"text": job, "value": [job]}
    instances = query_var(
        "instance", "instance", f'label_values({metric}{{job=~"$job"}}, instance)'
    )
    return [jobs, instances]


def query_var(name: str, label: str, query: str, include_all: bool = True) -> dict[str, Any]:
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "query": {"query": query, "refId": f"{name}-var"},
        "definition": query,
        "refresh": 2,  # on time range change: new runs bring new label values
        "includeAll": include_all,
        "allValue": ".*",
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
    }


def dashboard(
    uid: str,
    title: str,
    layout: Layout,
    variables: list[dict[str, Any]],
    annotations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "uid": uid,
        "title": title,
        "tags": ["kafkaval"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "5s",
        "time": {"from": "now-15m", "to": "now"},
        "templating": {"list": [_datasource_var(), *variables]},
        "annotations": {"list": [builtin, *(annotations or [])]},
        # Every kafkaval dashboard (tag) one click away, on the same time range:
        # the client's view next to the cluster's.
        "links": [
            {
                "type": "dashboards",
                "tags": ["kafkaval"],
                "asDropdown": True,
                "title": "kafkaval dashboards",
                "keepTime": True,
                "includeVars": False,
            }
        ],
        "panels": layout.panels,
    }
