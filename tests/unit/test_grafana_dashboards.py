"""Structure of the Grafana provisioning and dashboards (Grafana itself cannot run here)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("grafana_generate", GRAFANA / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _datasource_uids() -> set[str]:
    uids = set()
    for path in (GRAFANA / "provisioning" / "datasources").glob("*.yml"):
        for ds in yaml.safe_load(path.read_text())["datasources"]:
            assert ds.get("uid"), f"{path}: datasource {ds.get('name')} has no pinned uid"
            uids.add(ds["uid"])
    return uids


def _datasource_refs(node: Any) -> list[Any]:
    """Every value of a "datasource" key anywhere in the JSON."""
    refs = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                refs.append(value)
            refs.extend(_datasource_refs(value))
    elif isinstance(node, list):
        for item in node:
            refs.extend(_datasource_refs(item))
    return refs


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def test_expected_dashboards_exist() -> None:
    assert {p.name for p in DASHBOARD_FILES} == {
        "load.json",
        "delivery.json",
        "resources.json",
        "kafka-cluster.json",
        "connect.json",
    }


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_every_dashboard_links_to_the_others(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    assert "kafkaval" in dashboard["tags"]
    (link,) = dashboard["links"]
    assert link["type"] == "dashboards" and link["tags"] == ["kafkaval"] and link["keepTime"]


@pytest.mark.parametrize("name", ["delivery.json", "kafka-cluster.json", "connect.json"])
def test_cluster_dashboards_shade_faults_too(name: str) -> None:
    dashboard = json.loads((GRAFANA / "dashboards" / name).read_text())
    exprs = [a.get("expr", "") for a in dashboard["annotations"]["list"]]
    assert any("kafkaval_chaos_fault_active" in e for e in exprs)


def test_committed_dashboards_are_generated() -> None:
    for name, text in _generator().render_all().items():
        assert (GRAFANA / "dashboards" / name).read_text() == text, (
            f"grafana/dashboards/{name} is stale: run python grafana/generate.py"
        )


def test_dashboard_provider_points_at_mounted_folder() -> None:
    config = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "kafkaval.yml").read_text())
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_uids_are_unique() -> None:
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARD_FILES]
    assert len(uids) == len(set(uids)) and all(uids)


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_structure(path: Path) -> None:
    text = path.read_text()
    dashboard = json.loads(text)
    assert "${DS_" not in text, "datasource must be referenced by uid, not an import input"
    assert "__inputs" not in dashboard
    known = _datasource_uids()
    for ref in _datasource_refs(dashboard):
        assert isinstance(ref, dict), f"datasource given by name {ref!r}, not by uid"
        if ref.get("type") == "grafana":
            continue  # Grafana's built-in annotation source
        assert ref.get("uid") in known, f"datasource uid {ref.get('uid')} is not provisioned"
    panels = _panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables, "every dashboard has template variables"
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
            assert used <= variables, f"{panel['title']!r} uses undefined variables {used}"
            assert target["expr"].count("(") == target["expr"].count(")")


def test_delivery_dashboard_shades_faults() -> None:
    dashboard = json.loads((GRAFANA / "dashboards" / "delivery.json").read_text())
    exprs = [a.get("expr", "") for a in dashboard["annotations"]["list"]]
    assert any("kafkaval_chaos_fault_active" in e for e in exprs)
