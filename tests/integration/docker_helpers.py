"""Shared bits of the Docker tier: the engine fixture's client, images, polling, compose."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import pytest

from kafkaval.docker_engine import engine_client

BASE_IMAGE = "kafkaval/base:bookworm"
KAFKA_IMAGE = "kafkaval/kafka:4.3.0"
PROMETHEUS_IMAGE = "kafkaval/prometheus:local"
# Another tag of the project's image (one built from a branch) for this session's tests.
KAFKAVAL_IMAGE = os.environ.get("KAFKAVAL_TEST_KAFKAVAL_IMAGE", "kafkaval/kafkaval:local")
POSTGRES_IMAGE = "kafkaval/postgres:local"
CONNECT_IMAGE = "kafkaval/connect:local"
TEST_LABEL = "org.kafkaval.test"
REPO = Path(__file__).resolve().parents[2]


def engine_or_skip() -> docker.DockerClient:
    """A client for the local engine; skips (with the reason) when none answers."""
    try:
        client = engine_client(timeout=60)
        client.ping()
    except docker.errors.DockerException as e:
        reason = f"no Docker engine reachable ({e}); run scripts/start-dockerd.sh"
        print(reason)
        pytest.skip(reason)
    return client


def require_image(client: docker.DockerClient, image: str) -> None:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        pytest.fail(f"image {image} missing: run docker/build-images.sh (make test does)")


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def compose_cmd() -> list[str]:
    """``docker-compose`` (Debian's 1.29, what these machines have) or ``docker compose``."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if probe.returncode == 0:
        return ["docker", "compose"]
    pytest.fail("neither docker-compose nor `docker compose` is installed (apt: docker-compose)")


def compose_env(project_prefix: str, ports: dict[str, int], **variables: str) -> dict[str, str]:
    """The environment of one test's compose project.

    This process's environment without the developer's ``KAFKAVAL_*``
    variables (the compose file reads several), the published ports, a fresh
    project name (so a test never touches another project's containers) and
    ``variables`` (images, directories).
    """
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("KAFKAVAL_")},
        **{k: str(v) for k, v in ports.items()},
        "COMPOSE_PROJECT_NAME": f"{project_prefix}{secrets.token_hex(3)}",
        **variables,
    }


def run_cmd(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """Run ``argv`` in the repository (where docker-compose.yml is), output captured."""
    return subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def compose_down(cmd: list[str], env: dict[str, str], client: docker.DockerClient) -> None:
    """``down -v`` the project of ``env`` and assert it left no container, volume or network."""
    down = run_cmd([*cmd, "down", "-v", "--remove-orphans"], env, 300)
    label = f"com.docker.compose.project={env['COMPOSE_PROJECT_NAME']}"
    left = (
        client.containers.list(all=True, filters={"label": label})
        + client.volumes.list(filters={"label": label})
        + client.networks.list(filters={"label": label})
    )
    assert down.returncode == 0, down.stderr
    assert left == [], f"`down -v` left {left}"


def container_name(cmd: list[str], env: dict[str, str], client: Any, service: str) -> str:
    """The name of the container running compose ``service``."""
    cid = run_cmd([*cmd, "ps", "-q", service], env, 30).stdout.strip()
    assert cid, f"no container for compose service {service}"
    return client.api.inspect_container(cid)["Name"].lstrip("/")
