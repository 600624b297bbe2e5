"""Structure of the Grafana provisioning and dashboards (Grafana itself cannot run here)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog import plugins as grafana_plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder as GrafanaEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard as GrafanaDashboard

GRAFANA = Path(__file__).resolve().parents[2] / "grafana"
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))


def _generator() -> Any:
    """The grafana/boards package (what grafana/generate.py writes out)."""
    boards = GRAFANA / "boards"
    spec = importlib.util.spec_from_file_location(
        "grafana_boards", boards / "__init__.py", submodule_search_locations=[str(boards)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its modules import each other relatively
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


CLUSTER_DASHBOARDS = {"kafka-cluster.json", "connect.json"}


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


def test_provisioning_takes_its_places_from_the_environment_compose_sets() -> None:
    """The same provisioning files serve compose and a user's own Grafana: the
    Prometheus URL and the dashboards folder are ${VARS} Grafana fills in."""
    config = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "kafkaval.yml").read_text())
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "${KAFKAVAL_DASHBOARDS_DIR}"
    (ds,) = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    assert ds["url"] == "${KAFKAVAL_PROMETHEUS_URL}"
    compose = yaml.safe_load((GRAFANA.parent / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    env = grafana["environment"]
    assert env["KAFKAVAL_PROMETHEUS_URL"] == "http://prometheus:9090"
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    assert mounts[env["KAFKAVAL_DASHBOARDS_DIR"]] == "./grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"


def test_uids_are_unique() -> None:
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARD_FILES]
    assert len(uids) == len(set(uids)) and all(uids)


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_structure(path: Path) -> None:
    text = path.read_text()
    dashboard = json.loads(text)
    # A datasource variable, not __inputs: file provisioning does not resolve those.
    assert "${DS_" not in text and "__inputs" not in dashboard
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    ds_var = variables["datasource"]
    assert ds_var["type"] == "datasource" and ds_var["query"] == "prometheus"
    assert ds_var["current"]["value"] in _datasource_uids(), "default is not provisioned"
    for ref in _datasource_refs(dashboard):
        assert isinstance(ref, dict), f"datasource given by name {ref!r}, not by uid"
        if ref.get("type") == "grafana":
            continue  # Grafana's built-in annotation source
        assert ref == {"type": "prometheus", "uid": "${datasource}"}, ref
    # The client-side dashboards pick their scrape targets with job/instance (a
    # Prometheus that also scrapes cAdvisor serves the container series twice);
    # the cluster dashboards read the JMX agents' own jobs (kafka-broker,
    # kafka-connect) and their recording rules, which no other exporter serves.
    job_scoped = path.name not in CLUSTER_DASHBOARDS
    if job_scoped:
        assert {"job", "instance"} <= set(variables)
    panels = _panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
            assert used <= set(variables), f"{panel['title']!r} uses undefined variables {used}"
            assert target["expr"].count("(") == target["expr"].count(")")
            # Every query is narrowed to the chosen scrape targets.
            if job_scoped:
                assert 'job=~"$job"' in target["expr"], f"{panel['title']!r}: no job filter"


def test_limits_and_verdicts_are_drawn() -> None:
    def panel(file: str, title: str) -> dict[str, Any]:
        dashboard = json.loads((GRAFANA / "dashboards" / file).read_text())
        return next(p for p in _panels(dashboard) if p["title"] == title)

    def steps(p: dict[str, Any]) -> list[Any]:
        return [
            (s["value"], s["color"]) for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"]
        ]

    assert steps(panel("load.json", "Service time (send -> ack)")) == [
        (None, "green"),
        (0.1, "red"),
    ]
    assert steps(panel("delivery.json", "Lost acked messages"))[1] == (1, "red")
    verdict = panel("delivery.json", "Scenario verdict")
    (mapping,) = verdict["fieldConfig"]["defaults"]["mappings"]
    assert {k: v["text"] for k, v in mapping["options"].items()} == {"1": "PASS", "0": "FAIL"}


# What Grafana 11.2 (the version docker-compose.yml pins) accepts, from its
# dashboard schema (schemaVersion 39): the parts these dashboards use.
GRAFANA_PINNED = "11.2."
SCHEMA_VERSION = 39
PANEL_TYPES = {
    "row", "timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text",
    "state-timeline", "status-history", "barchart", "histogram", "piechart", "logs",
}  # fmt: skip
VARIABLE_TYPES = {"query", "datasource", "custom", "constant", "interval", "textbox", "adhoc"}
MAPPING_TYPES = {"value", "range", "regex", "special"}
THRESHOLD_STYLES = {"off", "line", "area", "line+area", "dashed", "dashed+area"}


def _schema_errors(d: dict[str, Any]) -> list[str]:
    errors = []

    def need(ok: bool, what: str) -> None:
        if not ok:
            errors.append(what)

    need(isinstance(d.get("uid"), str) and 0 < len(d["uid"]) <= 40, "uid: 1-40 characters")
    need(isinstance(d.get("title"), str) and bool(d["title"]), "title")
    need(d.get("schemaVersion") == SCHEMA_VERSION, f"schemaVersion {SCHEMA_VERSION}")
    need(all(isinstance(t, str) for t in d.get("tags", [])), "tags: strings")
    need(isinstance(d.get("time", {}).get("from"), str), "time.from")
    need(d.get("timezone") in ("utc", "browser", ""), "timezone")
    for v in d["templating"]["list"]:
        need(v.get("type") in VARIABLE_TYPES, f"variable {v.get('name')}: type")
        need(bool(re.fullmatch(r"\w+", v.get("name", ""))), f"variable name {v.get('name')}")
        if v["type"] == "query":
            need("datasource" in v and "query" in v, f"variable {v['name']}: datasource, query")
    for a in d["annotations"]["list"]:
        need(isinstance(a.get("enable"), bool) and "name" in a and "datasource" in a, "annotation")
    for p in _panels(d):
        where = f"panel {p.get('title')!r}"
        need(p.get("type") in PANEL_TYPES, f"{where}: type {p.get('type')}")
        need(isinstance(p.get("id"), int), f"{where}: id")
        g = p.get("gridPos", {})
        need(all(isinstance(g.get(k), int) for k in "hwxy"), f"{where}: gridPos")
        need(1 <= g.get("w", 0) and g.get("x", 0) + g.get("w", 0) <= 24, f"{where}: width")
        if p["type"] == "row":
            need(isinstance(p.get("panels"), list), f"{where}: panels")
            continue
        refs = [t.get("refId") for t in p.get("targets", [])]
        need(len(refs) == len(set(refs)) and all(refs), f"{where}: refIds")
        defaults = p.get("fieldConfig", {}).get("defaults", {})
        if "thresholds" in defaults:
            th = defaults["thresholds"]
            values = [s.get("value") for s in th.get("steps", [])]
            need(th.get("mode") in ("absolute", "percentage"), f"{where}: thresholds.mode")
            need(bool(values) and values[0] is None, f"{where}: first step is the base (null)")
            need(values[1:] == sorted(values[1:]), f"{where}: steps ascending")
        for m in defaults.get("mappings", []):
            need(m.get("type") in MAPPING_TYPES, f"{where}: mapping type")
            need(isinstance(m.get("options"), dict), f"{where}: mapping options")
        style = defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode", "off")
        need(style in THRESHOLD_STYLES, f"{where}: thresholdsStyle")
    return errors


def test_schema_is_that_of_the_pinned_grafana() -> None:
    compose = (GRAFANA.parent / "docker-compose.yml").read_text()
    pinned = re.search(r"GRAFANA_IMAGE:-grafana/grafana:([0-9.]+)", compose)
    assert pinned and pinned[1].startswith(GRAFANA_PINNED), (
        "docker-compose.yml pins another Grafana: check the dashboard schema for it here"
    )
    sdk = re.search(
        r'"grafana-foundation-sdk==\d+!([0-9.]+)"', (GRAFANA.parent / "pyproject.toml").read_text()
    )
    assert sdk and sdk[1].startswith(GRAFANA_PINNED), (
        "pyproject.toml pins the Foundation SDK build of another Grafana than docker-compose.yml"
    )


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_passes_the_schema_check(path: Path) -> None:
    assert _schema_errors(json.loads(path.read_text())) == []


def test_schema_check_finds_errors() -> None:
    dashboard = json.loads(DASHBOARD_FILES[0].read_text())
    bad = _panels(dashboard)[1]
    bad["type"] = "graph-old"
    bad["gridPos"]["w"] = 30
    bad["fieldConfig"]["defaults"]["thresholds"] = {"mode": "fixed", "steps": [{"value": 1}]}
    dashboard["schemaVersion"] = 41
    errors = _schema_errors(dashboard)
    assert len(errors) == 5, errors


# Grafana's own dashboard kind (kinds/dashboard/dashboard_kind.cue) and its
# panel plugins' schemas, as generated into Grafana's Foundation SDK for the
# pinned Grafana (the dev extra pins the SDK build for 11.2). Its models carry
# every field the kind names; a field they drop is one Grafana does not know,
# or one at the wrong place. Two objects of the kind are open (`...` in the
# CUE): an annotation query (a datasource "spreads its query into the base
# object": Prometheus reads step, titleFormat, ... there) and a template
# variable (Grafana itself writes `definition`, the query's text). Extra
# fields are allowed directly on those two, nowhere else.
OPEN_OBJECTS = (
    re.compile(r"^\.annotations\.list\[\d+\]\.\w+$"),
    re.compile(r"^\.templating\.list\[\d+\]\.\w+$"),
)


def _round_trip_losses(original: Any, back: Any, path: str = "") -> list[str]:
    """Where ``back`` (the SDK's dump) lost or changed a field of ``original``."""
    if isinstance(original, dict):
        if not isinstance(back, dict):
            return [f"{path}: became {type(back).__name__}"]
        out = []
        for key, value in original.items():
            where = f"{path}.{key}"
            if key not in back:
                if not any(p.match(where) for p in OPEN_OBJECTS):
                    out.append(f"{where}: not in Grafana's schema")
                continue
            out += _round_trip_losses(value, back[key], where)
        return out
    if isinstance(original, list):
        if not isinstance(back, list) or len(back) != len(original):
            return [f"{path}: list changed"]
        return [
            loss
            for i, (a, b) in enumerate(zip(original, back, strict=True))
            for loss in _round_trip_losses(a, b, f"{path}[{i}]")
        ]
    return [] if original == back else [f"{path}: {original!r} became {back!r}"]


def _grafana_schema_losses(dashboard: dict[str, Any]) -> list[str]:
    grafana_plugins.register_default_plugins()  # the panel kinds' options and field config
    model = GrafanaDashboard.from_json(json.loads(json.dumps(dashboard)))
    return _round_trip_losses(dashboard, json.loads(json.dumps(model, cls=GrafanaEncoder)))


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_dashboard_loads_into_grafanas_own_models_without_loss(path: Path) -> None:
    assert _grafana_schema_losses(json.loads(path.read_text())) == []


def test_grafanas_models_find_unknown_and_misplaced_fields() -> None:
    dashboard = json.loads((GRAFANA / "dashboards" / "delivery.json").read_text())
    stat = next(p for p in _panels(dashboard) if p["type"] == "stat")
    stat["options"]["legend"] = {"displayMode": "list"}  # a stat panel has no legend
    stat["fieldConfig"]["defaults"]["unitt"] = "s"  # misspelt
    dashboard["panels"][0]["gridPos"]["depth"] = 1  # no such field
    dashboard["templating"]["list"][1]["definition"] = "up"  # open object: allowed
    losses = _grafana_schema_losses(dashboard)
    assert sorted(loss.rsplit(".", 1)[-1] for loss in losses) == [
        "depth: not in Grafana's schema",
        "legend: not in Grafana's schema",
        "unitt: not in Grafana's schema",
    ], losses


def test_delivery_dashboard_shades_faults() -> None:
    dashboard = json.loads((GRAFANA / "dashboards" / "delivery.json").read_text())
    exprs = [a.get("expr", "") for a in dashboard["annotations"]["list"]]
    assert any("kafkaval_chaos_fault_active" in e for e in exprs)
