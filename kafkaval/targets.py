"""Scrape-target registration: how a metrics endpoint tells Prometheus it exists.

The local stack's Prometheus discovers targets from JSON files in
``<state_dir>/targets/`` (file_sd, watched with inotify, so a new file is picked
up within a second). A loadgen worker, a chaos runner or the exporter writes
one file for its endpoint while it runs and removes it when it stops. Against
a Prometheus we did not start (compose, the user's own), the files are
harmless and that Prometheus's own scrape config applies.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.registry import Collector

from kafkaval.config import Settings
from kafkaval.files import write_atomic


class MetricsServer:
    """``registry`` served over HTTP on ``host``:``port`` until ``close()``.

    Every /metrics endpoint of the project goes through here so that closing
    is done one way: ``shutdown()`` alone stops the serving thread but leaves
    the socket listening, and the next endpoint on that port in the same
    process (a second run, a test after another) finds it busy.

    Raises:
        OSError: the port cannot be bound.
    """

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)
        self.port: int = self._server.server_address[1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def targets_dir(settings: Settings) -> Path:
    return settings.path("state_dir") / "targets"


def register_target(settings: Settings, job: str, instance: str, address: str) -> Path:
    """Write a file_sd entry for ``address`` (host:port) under ``job``; returns its path."""
    entry = [{"targets": [address], "labels": {"job": job, "instance": instance}}]
    path = targets_dir(settings) / f"{job}-{instance}.json"
    return write_atomic(path, json.dumps(entry))


@contextlib.contextmanager
def scrape_target(settings: Settings, job: str, instance: str, address: str) -> Iterator[Path]:
    """Register ``address`` for the duration of the block."""
    path = register_target(settings, job, instance, address)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def last_scrape(settings: Settings, job: str, instance: str) -> float | None:
    """Wall-clock time of Prometheus' latest good scrape of ``job``/``instance``.

    A failed scrape (``up`` 0: a timeout on a loaded host) does not count: it
    stored none of the endpoint's values. None if unknown.
    """
    up = f'up{{job="{job}",instance="{instance}"}}'
    try:
        r = requests.get(
            f"{settings.prometheus_url.rstrip('/')}/api/v1/query",
            # timestamp() of a selector is the sample's time; of "up == 1" it
            # would be the evaluation time, so the filter goes on the right of "and".
            params={"query": f"timestamp({up}) and ({up} == 1)"},
            timeout=2,
        )
        result = r.json()["data"]["result"]
    except (requests.RequestException, ValueError, KeyError):
        return None  # best effort: lingering falls back to its time bound
    return float(result[0]["value"][1]) if result else None


def wait_scraped(settings: Settings, job: str, instance: str, after: float) -> bool:
    """Wait until Prometheus scraped ``job``/``instance`` after wall time ``after``.

    An endpoint calls this before it goes away, so its final values are in
    Prometheus. Bounded by 2.5 scrape intervals plus 2 s (a Prometheus that
    names the target otherwise, compose's by address, is waited for that long
    and no more); True if the scrape was seen.
    """
    deadline = time.monotonic() + 2.5 * settings.scrape_interval + 2.0
    while time.monotonic() < deadline:
        ts = last_scrape(settings, job, instance)
        if ts is not None and ts > after + 0.05:
            return True
        time.sleep(0.25)
    return False


@contextlib.contextmanager
def serve_metrics(
    settings: Settings, collector: Collector, port: int, job: str, instance: str, what: str
) -> Iterator[bool]:
    """Serve ``collector`` on ``port`` for the block, registered as ``job``/``instance``.

    Yields whether it is served: a busy port is a warning naming ``what``, not
    a failure (a run's exact figures are in its record either way). A block
    that ends normally waits for Prometheus' next scrape, so the final values
    are in it; one that raises (Ctrl-C included) does not wait.
    """
    registry = CollectorRegistry()
    registry.register(collector)
    try:
        server = MetricsServer(registry, settings.metrics_host, port)
    except OSError as e:
        print(f"warning: {what} not exposed, port {port} busy ({e.strerror})", file=sys.stderr)
        yield False
        return
    with announced(settings, server, job, instance):
        yield True


@contextlib.contextmanager
def announced(
    settings: Settings, server: MetricsServer, job: str, instance: str, linger: bool = True
) -> Iterator[str]:
    """``server`` registered as ``job``/``instance`` for the block; yields host:port.

    The one path every endpoint takes after binding its port (each says in its
    own words when it cannot bind). With ``linger`` a block that ends normally
    waits for Prometheus' next scrape, so the final values are in it; one that
    raises (Ctrl-C included) does not wait. The server is closed afterwards.
    """
    address = f"{settings.metrics_host}:{server.port}"
    try:
        with scrape_target(settings, job, instance, address):
            yield address
            if linger:
                wait_scraped(settings, job, instance, time.time())
    finally:
        server.close()
