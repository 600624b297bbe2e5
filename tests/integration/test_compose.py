"""docker-compose.yml for real: config, up to healthy, a QUICK run and a broker fault, down -v.

Uses Debian's `docker-compose` 1.29 (what these machines have; the file is
written in the Compose Specification so `docker compose` v2 reads it too) and
the images built locally by docker/build-images.sh in place of the public
ones. Grafana is left out: its image cannot be obtained here.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from dashboard_exprs import expressions, substitute
from docker_helpers import (
    KAFKA_IMAGE,
    KAFKAVAL_IMAGE,
    PROMETHEUS_IMAGE,
    compose_cmd,
    compose_down,
    compose_env,
    container_name,
    engine_or_skip,
    require_image,
    run_cmd,
    wait_for,
)

from kafkaval.prom_client import PromClient

pytestmark = pytest.mark.docker

_OFF = int(os.environ.get("KAFKAVAL_TEST_PORT_OFFSET", "0"))
PORTS = {
    "KAFKA_PORT": 29694 + _OFF,
    "PROMETHEUS_PORT": 29690 + _OFF,
    "EXPORTER_PORT": 29617 + _OFF,
}


def _query(url: str, promql: str) -> list[dict[str, Any]]:
    r = requests.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5)
    r.raise_for_status()
    return r.json()["data"]["result"]


@pytest.mark.parametrize(
    "extra,env",
    [
        ([], {}),
        (["-f", "docker-compose.yml", "-f", "docker-compose.engine.yml"], {}),
        (["--profile", "cdc"], {}),
        (["--env-file", "docker/cluster.env"], {}),
        (
            ["-f", "docker-compose.yml", "-f", "docker-compose.attach.yml"],
            {"ATTACH_NETWORK": "pipeline_default", "ATTACH_BOOTSTRAP_SERVERS": "kafka:9092"},
        ),
    ],
    ids=["default", "engine", "cdc", "cluster", "attach"],
)
def test_config_is_accepted(extra: list[str], env: dict[str, str]) -> None:
    out = run_cmd([*compose_cmd(), *extra, "config", "-q"], {**os.environ, **env}, 60)
    assert out.returncode == 0, out.stderr


def test_attach_mode_without_its_variables_names_them() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTACH_")}
    cmd = [*compose_cmd(), "-f", "docker-compose.yml", "-f", "docker-compose.attach.yml"]
    out = run_cmd([*cmd, "config", "-q"], env, 60)
    assert out.returncode != 0
    assert "ATTACH_" in out.stderr


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    client = engine_or_skip()
    for image in (KAFKA_IMAGE, PROMETHEUS_IMAGE, KAFKAVAL_IMAGE):
        require_image(client, image)
    results = tmp_path_factory.mktemp("compose-results")
    results.chmod(0o777)  # written by the tools' containers
    env = compose_env(
        "kvit",
        PORTS,
        KAFKA_IMAGE=KAFKA_IMAGE,
        PROMETHEUS_IMAGE=PROMETHEUS_IMAGE,
        KAFKAVAL_IMAGE=KAFKAVAL_IMAGE,
        KAFKAVAL_RESULTS_DIR=str(results),
        KAFKAVAL_REPORTS_DIR=str(results),
    )
    project = env["COMPOSE_PROJECT_NAME"]
    # A memory limit on the broker, as a user's pipeline often has: the
    # Resources dashboard's limit panel then has a series to show.
    override = tmp_path_factory.mktemp("compose-override") / "limits.yml"
    override.write_text('services:\n  kafka:\n    mem_limit: "1g"\n')
    # The engine for the startup benchmark and the broker fault (docker-compose.engine.yml).
    cmd = [*compose_cmd(), "-f", "docker-compose.yml", "-f", "docker-compose.engine.yml"]
    cmd += ["-f", str(override)]
    try:
        up = run_cmd([*cmd, "up", "-d", "--no-build", "kafka", "prometheus", "exporter"], env, 300)
        assert up.returncode == 0, up.stderr

        def healthy() -> bool:
            ids = run_cmd([*cmd, "ps", "-q"], env, 30).stdout.split()
            states = [
                client.api.inspect_container(i)["State"].get("Health", {}).get("Status")
                for i in ids
            ]
            # The exporter brings its read-only door to the engine, docker-proxy.
            return len(states) == 4 and all(s == "healthy" for s in states)

        wait_for(healthy, 240, "kafka, prometheus, exporter and docker-proxy healthy", interval=2)
        kafka_name = container_name(cmd, env, client, "kafka")
        yield {
            "cmd": cmd,
            "env": env,
            "project": project,
            "results": results,
            "kafka": kafka_name,
            "prometheus": f"http://127.0.0.1:{PORTS['PROMETHEUS_PORT']}",
            "client": client,
        }
    finally:
        try:
            compose_down(cmd, env, client)
        finally:
            client.close()


def test_quick_throughput_and_startup_run_in_compose(compose: dict[str, Any]) -> None:
    # Correctness, not speed (a 2-core test machine runs several stacks): the
    # latency, startup and rate limits are generous, as in test_perf_suite.
    argv = [*compose["cmd"], "run", "--rm", "--use-aliases", "loadgen", "--quick", "--no-progress"]
    argv += ["--profile", "throughput", "--profile", "startup"]
    argv += ["--threshold", "max_p95_service_seconds=5", "--threshold", "max_startup_seconds=90"]
    argv += ["--threshold", "min_rate_ratio=0.5"]
    out = run_cmd(argv, compose["env"], 600)
    record = json.loads((compose["results"] / "latest-performance.json").read_text())
    run = record["profiles"]["throughput"]
    # The `run` container's /metrics reached the compose Prometheus (dns_sd on the
    # service name), whatever the run's verdict: its acked total there is the record's.
    promql = (
        'sum(last_over_time(kafkaval_loadgen_messages_acked_total{job="kafkaval-loadgen",'
        'profile="throughput"}[30m]))'
    )
    found = _query(compose["prometheus"], promql)
    assert found, "no kafkaval_loadgen_* series from the loadgen run in the compose Prometheus"
    assert float(found[0]["value"][1]) == run["acked"]
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert run["passed"], run
    assert run["acked"] == run["sent"] > 0
    assert run["consumed"] == run["acked"]
    # The broker's memory peak came from the exporter's series (the 2 GiB check).
    assert run["broker_memory_peak_bytes"] > 100 * 2**20
    assert run["thresholds"]["max_broker_memory_bytes"]["passed"]
    startup = record["profiles"]["startup"]
    assert startup["passed"], startup
    assert startup["startup_kind"] == f"container from {KAFKA_IMAGE}"
    assert 0 < startup["metadata_seconds"] <= startup["startup_seconds"] < 90
    leftovers = compose["client"].containers.list(
        all=True, filters={"label": "org.kafkaval.startup"}
    )
    assert leftovers == [], "the startup container was not removed"
    assert record["environment"]["brokers"] == 1


def test_broker_restart_scenario_runs_in_compose(compose: dict[str, Any]) -> None:
    # Chaos may touch exactly this project's broker container, by name.
    env = {**compose["env"], "KAFKAVAL_CHAOS_TARGETS": compose["kafka"]}
    # No --cluster: against the compose Kafka the default is its own shape (single).
    argv = [*compose["cmd"], "run", "--rm", "--use-aliases", "chaos", "--quick"]
    argv += ["--scenario", "broker-restart"]
    out = run_cmd(argv, env, 900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    record = json.loads((compose["results"] / "latest-delivery.json").read_text())
    result = record["scenarios"]["broker-restart"]
    assert result["passed"], result
    assert result["cluster"] == "single"
    assert result["lost"] == 0 and result["acked"] > 0
    assert result["faults"] and all(f["rolled_back"] for f in result["faults"])
    assert {f["target"] for f in result["faults"]} == {compose["kafka"]}
    state = compose["client"].api.inspect_container(compose["kafka"])["State"]
    assert state["Running"] and not state["Paused"]


def test_prometheus_holds_the_exporters_kafka_series(compose: dict[str, Any]) -> None:
    promql = f'container_cpu_usage_seconds_total{{name="{compose["kafka"]}"}}'
    wait_for(
        lambda: bool(_query(compose["prometheus"], promql)),
        90,
        "Prometheus to hold the exporter's series of the Kafka container",
        interval=2,
    )
    series = _query(compose["prometheus"], promql)[0]
    labels = series["metric"]
    # cAdvisor's label names: the compose service label, the container's cgroup id.
    assert labels["container_label_com_docker_compose_service"] == "kafka"
    assert labels["id"].startswith("/docker/") and labels["image"]
    assert float(series["value"][1]) > 0


def test_resources_dashboard_panels_have_data_on_compose(compose: dict[str, Any]) -> None:
    """The Resources panels the local stack cannot fill (per-container network,
    memory limit) return data from the compose Prometheus and its Docker exporter."""
    prom = PromClient(compose["prometheus"])
    end = time.time()
    for dashboard, title, expr in expressions():
        if dashboard != "resources":
            continue
        promql = substitute(expr, 2.0)

        def has_data(promql: str = promql) -> bool:
            series = prom.query_range(promql, end - 300, time.time(), min_step=2.0)
            return sum(len(s.points) for s in series) > 0

        wait_for(has_data, 60, f"data for resources / {title}: {promql}", interval=2)
    limit = _query(
        compose["prometheus"], f'container_spec_memory_limit_bytes{{name="{compose["kafka"]}"}}'
    )
    assert float(limit[0]["value"][1]) == 2**30
