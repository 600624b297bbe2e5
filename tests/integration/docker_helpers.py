"""Shared bits of the Docker tier: the engine fixture's client, images, polling."""

from __future__ import annotations

import time
from collections.abc import Callable

import docker
import pytest

BASE_IMAGE = "kafkaval/base:bookworm"
KAFKA_IMAGE = "kafkaval/kafka:4.3.0"
PROMETHEUS_IMAGE = "kafkaval/prometheus:local"
KAFKAVAL_IMAGE = "kafkaval/kafkaval:local"
TEST_LABEL = "org.kafkaval.test"


def engine_or_skip() -> docker.DockerClient:
    """A client for the local engine; skips (with the reason) when none answers."""
    try:
        client = docker.from_env(version="auto", timeout=60)
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
