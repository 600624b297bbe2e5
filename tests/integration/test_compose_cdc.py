"""The compose "cdc" profile for real: PostgreSQL and Debezium Connect containers.

The images built locally by docker/build-images.sh (kafkaval/postgres:local,
kafkaval/connect:local, kafkaval/kafka) stand in for the public ones through
the compose variables. Kafka (one broker), PostgreSQL and Connect come up,
``kafkaval cdc up`` registers the connector as the compose file's comment
says, an insert arrives as a Debezium envelope, and ``cdc connector-restart``
runs in container mode: ``docker kill`` of the connect container, start
again, then a graceful REST restart, within the delivery bounds. ``down -v``
leaves nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cdc_fixtures import assert_insert_round_trip
from docker_helpers import (
    CONNECT_IMAGE,
    KAFKA_IMAGE,
    POSTGRES_IMAGE,
    compose_cmd,
    compose_down,
    compose_env,
    container_name,
    engine_or_skip,
    require_image,
    run_cmd,
    wait_for,
)
from report_runs import settings_env

from cdc import connect
from cdc.config import load_cdc_config
from kafkaval.config import load_settings

pytestmark = [pytest.mark.docker, pytest.mark.cdc]

_OFF = int(os.environ.get("KAFKAVAL_TEST_PORT_OFFSET", "0"))
PORTS = {"KAFKA_PORT": 29794 + _OFF, "POSTGRES_PORT": 29732 + _OFF, "CONNECT_PORT": 29783 + _OFF}
# The run's /metrics: metrics_port + 85 (cdc.metrics) = 29785.
METRICS_PORT = 29700 + _OFF


@pytest.fixture(scope="module")
def cdc_compose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    client = engine_or_skip()
    for image in (KAFKA_IMAGE, POSTGRES_IMAGE, CONNECT_IMAGE):
        require_image(client, image)
    env = compose_env(
        "kvcdc",
        PORTS,
        KAFKA_IMAGE=KAFKA_IMAGE,
        KAFKAVAL_POSTGRES_IMAGE=POSTGRES_IMAGE,
        KAFKAVAL_CONNECT_IMAGE=CONNECT_IMAGE,
    )
    cmd = [*compose_cmd(), "--profile", "cdc"]
    # kafkaval on the host, as the compose comment documents: Kafka, PostgreSQL
    # and Connect on their published ports, the connector inside Connect on postgres:5432.
    tmp = tmp_path_factory.mktemp("compose-cdc")
    settings = dataclasses.replace(
        load_settings(environ={}),
        bootstrap_servers=f"127.0.0.1:{PORTS['KAFKA_PORT']}",
        state_dir=str(tmp / "state"),
        results_dir=str(tmp / "results"),
        metrics_port=METRICS_PORT,
        # No Prometheus here: the run's endpoint lingers for a short scrape interval only.
        prometheus_url="http://127.0.0.1:1",
        scrape_interval=0.2,
    )
    cdc = {
        "pg_port": PORTS["POSTGRES_PORT"],
        "connect_url": f"http://127.0.0.1:{PORTS['CONNECT_PORT']}",
        "connector_pg_host": "postgres",
        "connector_pg_port": 5432,
    }
    cfg = load_cdc_config(environ={}, overrides=cdc)
    tool_env = {
        **settings_env(settings),
        **{f"KAFKAVAL_CDC_{k.upper()}": str(v) for k, v in cdc.items()},
    }
    try:
        # Connect waits for Kafka and PostgreSQL to be healthy (depends_on), so `up` does too.
        up = run_cmd([*cmd, "up", "-d", "--no-build", "kafka", "postgres", "connect"], env, 300)
        assert up.returncode == 0, up.stderr
        wait_for(connect.ConnectClient(cfg.rest_url).reachable, 120, "Connect REST", interval=1)
        out = _kafkaval(tool_env, "cdc", "up", timeout=180)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "kafkaval-postgres (RUNNING)" in out.stdout
        yield {
            "client": client,
            "settings": settings,
            "cfg": cfg,
            "tool_env": tool_env,
            "connect": container_name(cmd, env, client, "connect"),
        }
    finally:
        try:
            compose_down(cmd, env, client)
        finally:
            client.close()


def _kafkaval(env: dict[str, str], *args: str, timeout: float) -> Any:
    return run_cmd([sys.executable, "-m", "kafkaval", *args], env, timeout)


def test_insert_round_trip_through_the_compose_pipeline(cdc_compose: dict[str, Any]) -> None:
    assert_insert_round_trip(cdc_compose["settings"], cdc_compose["cfg"])


def test_connector_restart_kills_the_connect_container(cdc_compose: dict[str, Any]) -> None:
    client, name = cdc_compose["client"], cdc_compose["connect"]

    def started_at() -> str:
        return client.api.inspect_container(name)["State"]["StartedAt"]

    before = started_at()
    argv = ["cdc", "connector-restart", "--quick", "--phase-seconds", "10"]
    argv += ["--connect-container", name]
    # Not listed in chaos_targets: refused in one line, exit 2, the container untouched.
    refused = _kafkaval(cdc_compose["tool_env"], *argv, timeout=60)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "not allowed" in refused.stderr and refused.stderr.count("\n") == 1
    assert started_at() == before
    # Allowed by the label the compose file puts on the connect service.
    env = {**cdc_compose["tool_env"], "KAFKAVAL_CHAOS_TARGETS": "org.kafkaval.chaos=allowed"}
    out = _kafkaval(env, *argv, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    results = Path(cdc_compose["settings"].results_dir)
    record = json.loads((results / "latest-cdc-delivery.json").read_text())
    r = record["results"]
    assert record["passed"], r["failures"]
    assert r["committed"] > 300 and r["missing"] == 0 and r["resnapshotted"] == 0
    kill, graceful = r["phases"]["kill"], r["phases"]["graceful"]
    assert kill["duplicates"] <= kill["duplicate_bound"]
    assert graceful["duplicates"] == 0
    assert kill["fault"]["target"] == name and kill["fault"]["rolled_back"]
    assert record["environment"]["stack_kind"] == "external or compose"
    entry = json.loads((results / "latest-delivery.json").read_text())["scenarios"]
    assert entry["connector-restart"]["passed"] and entry["connector-restart"]["lost"] == 0
    # The container was killed and started again (same container, new start), and serves.
    state = client.api.inspect_container(name)["State"]
    assert state["Running"] and state["StartedAt"] != before
    cfg = cdc_compose["cfg"]
    status = connect.ConnectClient(cfg.rest_url).status(cfg.connector_name)
    assert status["connector"]["state"] == "RUNNING"
