"""docker-compose.yml as users run it: built images never pulled, the engine only
where asked for, start order by health, every /metrics port scraped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cdc import metrics as cdc_metrics
from chaos import cli as chaos_cli
from kafkaval.config import Settings
from loadgen.options import MAX_WORKERS
from scheduler import cli as scheduler_cli
from stack.prometheus import COMPOSE_JOBS

REPO = Path(__file__).resolve().parents[2]
SOCKET = "/var/run/docker.sock"


def _services(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / name).read_text())["services"]


def _mounts_socket(service: dict[str, Any]) -> bool:
    return any(str(v).split(":")[0] == SOCKET for v in service.get("volumes") or [])


def test_locally_built_images_are_never_pulled() -> None:
    built = {n: s for n, s in _services("docker-compose.yml").items() if "build" in s}
    assert built, "no service builds its image"
    assert {n: s.get("pull_policy") for n, s in built.items()} == dict.fromkeys(built, "build")


def test_only_the_read_only_proxy_holds_the_engine_unless_asked() -> None:
    services = _services("docker-compose.yml")
    assert [n for n, s in services.items() if _mounts_socket(s)] == ["docker-proxy"]
    assert services["docker-proxy"]["entrypoint"][-1] == "exporter.socket_proxy"
    exporter = services["exporter"]
    assert exporter["environment"]["DOCKER_HOST"] == "tcp://docker-proxy:2375"
    assert exporter["depends_on"]["docker-proxy"]["condition"] == "service_healthy"
    # Only the exporter reaches the proxy: its network is internal and theirs alone.
    on_it = sorted(n for n, s in services.items() if "engine-reads" in (s.get("networks") or []))
    assert on_it == ["docker-proxy", "exporter"]
    assert services["docker-proxy"]["networks"] == ["engine-reads"]
    networks = yaml.safe_load((REPO / "docker-compose.yml").read_text())["networks"]
    assert networks["engine-reads"] == {"internal": True}
    engine = _services("docker-compose.engine.yml")
    assert all(_mounts_socket(s) for s in engine.values())
    assert set(engine) <= set(services)


def test_grafana_and_scheduler_wait_for_healthy_dependencies() -> None:
    services = _services("docker-compose.yml")
    for name in ("grafana", "scheduler"):
        deps = services[name]["depends_on"]
        assert isinstance(deps, dict) and deps, name
        for dep, spec in deps.items():
            assert spec == {"condition": "service_healthy"}, (name, dep)
            assert "healthcheck" in services[dep], dep


def test_compose_prometheus_scrapes_every_metrics_port() -> None:
    base = Settings.metrics_port
    ports = {service: set(p) for _job, service, p in COMPOSE_JOBS}
    assert ports["loadgen"] == set(range(base, base + MAX_WORKERS + 1))
    assert ports["cdc"] == {base + cdc_metrics.METRICS_PORT_OFFSET}
    assert ports["chaos"] == {base + chaos_cli.METRICS_PORT_OFFSET}
    assert ports["scheduler"] == {base + scheduler_cli.METRICS_PORT_OFFSET}
    assert set(ports) <= set(_services("docker-compose.yml"))
