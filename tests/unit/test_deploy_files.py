"""deploy/ and the discovery examples, checked offline.

No Kubernetes cluster is reachable here, and ``kubectl create --dry-run=client``
still asks a server for its API list, so the manifests are checked against the
Kubernetes API's own models instead (the official Python client's, generated
from the API's OpenAPI document): each built-in object must load into its
model (types and required fields) and dump back unchanged (no field the API
does not know). Then the structure the workers need: an Indexed Job whose
size, worker count and ports agree, whose arguments the real CLI accepts and
whose environment meets the worker contract; the same for the Swarm stack
file. The Prometheus examples go through promtool where it can check them
(Debian's has no kubernetes_sd).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafkaval.cli import build_parser
from kafkaval.records import new_run_id
from loadgen.engine_worker import contract_from

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "kubernetes"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _manifests() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in _docs(path):
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), path
            assert doc["metadata"].get("name") or doc["metadata"].get("generateName"), path
            out[doc["kind"]] = doc
    return out


def _worker_args_parse(args: list[str]) -> None:
    ns = build_parser().parse_args([str(a) for a in args])
    assert ns.perf_verb == "worker" and ns.profiles, args


def _api_model_round_trip(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` loaded into the Kubernetes API model of its kind and dumped again.

    Raises:
        pydantic.ValidationError: a field of the wrong type, a required one missing.
    """
    import json

    from kubernetes.client import ApiClient

    api = ApiClient()
    version = doc["apiVersion"].rsplit("/", 1)[-1]
    model = f"{version.capitalize()}{doc['kind']}"
    return api.sanitize_for_serialization(
        api.deserialize(json.dumps(doc), model, "application/json")
    )


def test_kubernetes_manifests_are_objects_the_api_accepts() -> None:
    checked = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in _docs(path):
            if doc["apiVersion"].startswith("monitoring.coreos.com/"):
                continue  # the Prometheus Operator's CRD: not in the core API models
            assert _api_model_round_trip(doc) == doc, path  # nothing unknown, nothing lost
            checked.append(doc["kind"])
    assert {"Job", "ConfigMap", "Service"} <= set(checked)


# The API server's rules for names (DNS-1123 subdomain; a generated name adds
# 5 characters) and label values.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def test_manifests_with_a_real_run_id_have_names_and_labels_the_api_accepts() -> None:
    run_id = new_run_id()  # capitals and all, as the driver prints it
    checked = 0
    for path in sorted(K8S.glob("*.yaml")):
        text = path.read_text().replace("REPLACE-WITH-RUN-ID", run_id)
        for doc in yaml.safe_load_all(text):
            if not doc:
                continue
            meta = doc["metadata"]
            name = meta.get("name") or meta["generateName"] + "x7k2q"
            assert len(name) <= 253 and _NAME.fullmatch(name), (path.name, name)
            for key, value in meta.get("labels", {}).items():
                assert len(value) <= 63 and _LABEL_VALUE.fullmatch(value), (path.name, key, value)
            checked += 1
    job = _manifests()["Job"]
    assert "generateName" in job["metadata"]  # kubectl create: a new Job per run
    assert checked >= 4


def test_the_api_model_check_catches_a_typo_a_wrong_type_and_a_missing_field() -> None:
    import copy

    from pydantic import ValidationError

    job = _manifests()["Job"]
    typo = copy.deepcopy(job)
    typo["spec"]["completionsMode"] = typo["spec"].pop("completionMode")
    assert _api_model_round_trip(typo) != typo  # the unknown field is dropped
    wrong = copy.deepcopy(job)
    wrong["spec"]["parallelism"] = "three"
    missing = copy.deepcopy(job)
    del missing["spec"]["template"]["spec"]["containers"]
    for bad in (wrong, missing):
        with pytest.raises(ValidationError):
            _api_model_round_trip(bad)


def test_kubernetes_indexed_job_meets_the_worker_contract() -> None:
    m = _manifests()
    assert {"Job", "ConfigMap", "Service", "PodMonitor"} <= m.keys()
    job, cm = m["Job"]["spec"], m["ConfigMap"]["data"]
    assert job["completionMode"] == "Indexed"
    assert job["backoffLimit"] == 0 and job["template"]["spec"]["restartPolicy"] == "Never"
    (container,) = job["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert job["completions"] == job["parallelism"] == int(env["KAFKAVAL_WORKERS"])
    refs = [r["configMapRef"]["name"] for r in container["envFrom"]]
    assert refs == [m["ConfigMap"]["metadata"]["name"]]
    _worker_args_parse(container["args"])
    # Pod i of the Job: JOB_COMPLETION_INDEX=i, the ConfigMap and the env make its contract.
    for i in range(job["completions"]):
        c = contract_from({**cm, **env, "JOB_COMPLETION_INDEX": str(i)})
        assert (c.index, c.workers, c.metrics_port) == (i + 1, job["completions"], 9400)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == int(cm["KAFKAVAL_WORKER_METRICS_PORT"])
    pod_labels = job["template"]["metadata"]["labels"]
    for kind, selector in (
        ("Service", m["Service"]["spec"]["selector"]),
        ("PodMonitor", m["PodMonitor"]["spec"]["selector"]["matchLabels"]),
    ):
        assert selector.items() <= pod_labels.items(), kind
    assert m["Service"]["spec"]["ports"][0]["targetPort"] == "metrics"
    assert m["PodMonitor"]["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    # The plain-Prometheus example (Debian's promtool is built without
    # kubernetes_sd, so its structure is checked here): it keeps these pods' metrics port.
    prom = yaml.safe_load((K8S / "prometheus-scrape.yml").read_text())["scrape_configs"][0]
    assert prom["kubernetes_sd_configs"] == [{"role": "pod"}]
    keep = {r["source_labels"][0]: r["regex"] for r in prom["relabel_configs"]}
    assert (
        keep["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
        == pod_labels["app.kubernetes.io/name"]
    )
    assert keep["__meta_kubernetes_pod_container_port_name"] == "metrics"


def test_swarm_stack_meets_the_worker_contract() -> None:
    (stack,) = _docs(REPO / "deploy" / "swarm" / "workers.yml")
    worker = stack["services"]["worker"]
    env = worker["environment"]
    assert env["KAFKAVAL_WORKER_INDEX"] == "{{.Task.Slot}}"
    assert worker["deploy"]["replicas"] == int(env["KAFKAVAL_WORKERS"])
    assert worker["deploy"]["restart_policy"]["condition"] == "none"
    _worker_args_parse(worker["command"])
    c = contract_from({**env, "KAFKAVAL_RUN_ID": "r", "KAFKAVAL_WORKER_INDEX": "3"})
    assert c.metrics_port == 9400
    # prometheus/swarm-workers.yml keeps the tasks by this service label and network.
    prom = yaml.safe_load((REPO / "prometheus" / "swarm-workers.yml").read_text())
    keep = {
        tuple(r["source_labels"]): r["regex"]
        for r in prom["scrape_configs"][0]["relabel_configs"]
        if r.get("action") == "keep"
    }
    assert (
        keep[("__meta_dockerswarm_service_label_org_kafkaval_role",)]
        == (worker["deploy"]["labels"]["org.kafkaval.role"])
    )
    assert list(stack["networks"]) == worker["networks"] == ["kafkaval"]
    assert prom["scrape_configs"][0]["dockerswarm_sd_configs"][0]["port"] == 9400


def test_swarm_discovery_example_passes_promtool() -> None:
    config = REPO / "prometheus" / "swarm-workers.yml"
    exe = shutil.which("promtool")
    assert exe, "promtool not found: apt-get install prometheus"
    result = subprocess.run(
        [exe, "check", "config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
