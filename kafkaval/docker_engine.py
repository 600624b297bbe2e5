"""What a Docker SDK call raises when the engine (not our request) failed.

``DockerException`` covers the SDK's own errors (APIError, NotFound, ...);
``requests.RequestException`` the socket underneath (engine gone, timeout).
Callers turn these into their own one-line errors.
"""

from __future__ import annotations

import docker
import requests

ENGINE_ERRORS: tuple[type[BaseException], ...] = (
    docker.errors.DockerException,
    requests.RequestException,
)
