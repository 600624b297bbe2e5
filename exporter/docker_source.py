"""Container stats from the Docker engine, gathered concurrently.

A stats call with ``stream=false`` makes the engine wait for two of its
collection ticks (about 2 s); ``one_shot=true`` (API >= 1.41) skips the second
one, yet on engine 20.10 a call still takes up to one tick (about 1 s). So all
containers are asked at once from a thread pool, and this runs in the
background sampler, never on the scrape path.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import docker

from exporter.errors import SourceUnavailable
from exporter.sample import TargetSample
from exporter.stats_math import usage_from_stats
from kafkaval.docker_engine import ENGINE_ERRORS, engine_client

# Listing containers and reading their stats: the engine failing, or its socket (OSError).
_READ_ERRORS: tuple[type[BaseException], ...] = (*ENGINE_ERRORS, OSError)

COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
# Every call is bounded; a stuck engine must not stall the sampler for long.
API_TIMEOUT_S = 10
DEFAULT_WORKERS = 32

ClientFactory = Callable[[], Any]


def default_client_factory(
    environ: Mapping[str, str] | None = None, workers: int = DEFAULT_WORKERS
) -> ClientFactory:
    """A factory for a docker-py client from DOCKER_HOST & co (default: the local socket),
    its calls bounded by ``API_TIMEOUT_S`` and its pool sized for ``workers`` threads."""

    def make() -> Any:
        return engine_client(
            timeout=API_TIMEOUT_S,
            environment=os.environ if environ is None else environ,
            max_pool_size=workers,
        )

    return make


def engine_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """One line saying why the engine cannot be used, or None if it answers.

    Names the usual causes (no socket, no permission) with their fix, for a
    clear message when the exporter starts.
    """
    env = os.environ if environ is None else environ
    host = env.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://"):
        path = host.removeprefix("unix://")
        if not os.path.exists(path):
            return (
                f"no Docker socket at {path}: start the engine (scripts/start-dockerd.sh) "
                "or set DOCKER_HOST"
            )
        if not os.access(path, os.R_OK | os.W_OK):
            return (
                f"permission denied on {path}: run as root, add the user to the 'docker' "
                "group, or mount the socket into the exporter container"
            )
    try:
        default_client_factory(env)().ping()
    except ENGINE_ERRORS as e:
        return f"Docker engine at {host} does not answer ({type(e).__name__}: {e})"
    return None


def _parse_docker_time(text: str | None) -> float | None:
    """Unix seconds from Docker's RFC 3339 nanosecond timestamps; None for the zero time."""
    if not text or text.startswith("0001-01-01"):
        return None
    head, _, frac = text.rstrip("Z").partition(".")
    tz = ""
    for sign in "+-":
        if sign in frac:
            frac, _, off = frac.partition(sign)
            tz = sign + off
    base = datetime.fromisoformat(head + (tz or "+00:00"))
    return base.timestamp() + (float("0." + frac) if frac.isdigit() else 0.0)


class _RestartCounter:
    """Counts restarts: the engine's RestartCount at first sight, plus every
    later change of StartedAt (a `docker restart` or kill + start does not raise
    RestartCount, only restart policies do)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def update(self, cid: str, started_at: str, engine_count: int) -> int:
        with self._lock:
            if cid not in self._seen:
                self._seen[cid] = (started_at, engine_count)
                return engine_count
            last, count = self._seen[cid]
            if started_at != last:
                count += 1
            self._seen[cid] = (started_at, count)
            return count

    def forget_except(self, alive: set[str]) -> None:
        with self._lock:
            for cid in set(self._seen) - alive:
                del self._seen[cid]


class DockerSource:
    """Samples every container matching the filters.

    Args:
        client_factory: makes a docker-py ``DockerClient``; called again after the
            engine was unreachable (it may have restarted).
        labels: ``key=value`` (or ``key``) label filters, all must match.
        compose_project: only containers of this compose project.
        workers: concurrent stats calls.
    """

    kind = "docker"

    def __init__(
        self,
        client_factory: ClientFactory | None = None,
        labels: Sequence[str] = (),
        compose_project: str | None = None,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        self._factory = client_factory or default_client_factory(workers=workers)
        self._filters = list(labels)
        if compose_project:
            self._filters.append(f"{COMPOSE_PROJECT_LABEL}={compose_project}")
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, "exporter-stats")
        self._client: Any = None
        self._restarts = _RestartCounter()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()

    def _api(self) -> Any:
        if self._client is None:
            self._client = self._factory()
        return self._client.api

    def sample(self) -> list[TargetSample]:
        """One sample of every matching container.

        Raises:
            SourceUnavailable: the engine cannot be reached (the next call retries
                with a fresh client).
        """
        try:
            api = self._api()
            filters = {"label": self._filters} if self._filters else None
            listed = api.containers(all=True, filters=filters)
        except _READ_ERRORS as e:
            self._drop_client()
            raise SourceUnavailable(f"Docker engine unreachable: {e}") from e
        futures = [self._pool.submit(self._one, api, c) for c in listed]
        samples = []
        for future in futures:
            try:
                result = future.result()
            except _READ_ERRORS:
                # Best effort per container: one that vanished or timed out must
                # not cost the others their sample; it comes back next round.
                continue
            if result is not None:
                samples.append(result)
        self._restarts.forget_except({c["Id"] for c in listed})
        return sorted(samples, key=lambda s: s.name)

    def _drop_client(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:  # noqa: BLE001 - closing a broken client may fail any way
                pass
        self._client = None

    def _one(self, api: Any, listed: Mapping[str, Any]) -> TargetSample | None:
        cid = listed["Id"]
        try:
            info = api.inspect_container(cid)
        except docker.errors.NotFound:
            return None  # removed between list and inspect
        state = info.get("State") or {}
        running = bool(state.get("Running")) and not state.get("Paused", False)
        labels = listed.get("Labels") or {}
        usage = None
        if state.get("Running"):
            try:
                stats = api.stats(cid, stream=False, one_shot=True)
            except docker.errors.NotFound:
                return None
            limit = int((info.get("HostConfig") or {}).get("Memory") or 0)
            usage = usage_from_stats(stats, limit)
        names = listed.get("Names") or [info.get("Name", cid[:12])]
        return TargetSample(
            name=names[0].lstrip("/"),
            image=listed.get("Image") or (info.get("Config") or {}).get("Image", ""),
            compose_service=labels.get(COMPOSE_SERVICE_LABEL, ""),
            running=running,
            start_time_seconds=_parse_docker_time(state.get("StartedAt")),
            restarts=self._restarts.update(
                cid, state.get("StartedAt", ""), int(info.get("RestartCount") or 0)
            ),
            usage=usage,
            id=f"/docker/{cid}",
        )
