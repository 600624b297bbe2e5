"""The one Docker engine client factory, and what its calls raise.

``engine_client`` is the only place a docker-py client is made; ``docker_client``
is it plus a ping that turns an absent engine into one ``KafkavalError`` line.
``DockerException`` covers the SDK's own errors (APIError, NotFound, ...);
``requests.RequestException`` the socket underneath (engine gone, timeout).
Callers turn these into their own one-line errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import docker
import requests

from kafkaval.errors import KafkavalError

ENGINE_ERRORS: tuple[type[BaseException], ...] = (
    docker.errors.DockerException,
    requests.RequestException,
)


def engine_client(
    timeout: int = 60,
    environment: Mapping[str, str] | None = None,
    max_pool_size: int | None = None,
) -> Any:
    """A docker-py client for the engine ``DOCKER_HOST`` names (default: the local socket).

    The API version is negotiated ("auto") because docker-py's default (1.45)
    is newer than engine 20.10 speaks (1.41). Nothing is sent to the engine yet.

    Args:
        timeout: seconds each API call may take.
        environment: where ``DOCKER_HOST`` & co are read (default: ``os.environ``).
        max_pool_size: connections kept per host (default: docker-py's).

    Raises:
        docker.errors.DockerException: the environment names no usable engine.
    """
    kwargs: dict[str, Any] = {"version": "auto", "timeout": timeout}
    if environment is not None:
        kwargs["environment"] = dict(environment)
    if max_pool_size is not None:
        kwargs["max_pool_size"] = max_pool_size
    return docker.from_env(**kwargs)


def docker_client(timeout: int = 60, environment: Mapping[str, str] | None = None) -> Any:
    """An ``engine_client`` whose engine answered a ping.

    Raises:
        KafkavalError: the engine does not answer (one line: cause and fix).
    """
    try:
        client = engine_client(timeout, environment)
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
