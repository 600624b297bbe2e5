"""What a Docker SDK call raises when the engine (not our request) failed.

``DockerException`` covers the SDK's own errors (APIError, NotFound, ...);
``requests.RequestException`` the socket underneath (engine gone, timeout).
Callers turn these into their own one-line errors. ``docker_client`` is the
factory new code uses.
"""

from __future__ import annotations

from typing import Any

import docker
import requests

from kafkaval.errors import KafkavalError

ENGINE_ERRORS: tuple[type[BaseException], ...] = (
    docker.errors.DockerException,
    requests.RequestException,
)


def docker_client(timeout: int = 60, environment: dict[str, str] | None = None) -> Any:
    """The Docker SDK client for the engine ``DOCKER_HOST`` names (default: the local socket).

    Raises:
        KafkavalError: the engine does not answer (one line: cause and fix).
    """
    try:
        client = docker.from_env(version="auto", timeout=timeout, environment=environment)
        client.ping()
    except ENGINE_ERRORS as e:
        raise KafkavalError(
            f"cannot reach the Docker engine ({type(e).__name__}: {error_line(e)}); "
            "start dockerd or set DOCKER_HOST"
        ) from e
    return client


def error_line(e: BaseException) -> str:
    """The first line of an SDK error's text (its full text can run to pages)."""
    return (str(e).strip().splitlines() or [""])[0][:200]
