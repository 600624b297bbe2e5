"""The loadgen's /metrics endpoint: serve, register for Prometheus, linger.

The endpoint serves a private registry holding the LoadgenCollector, writes
a file_sd entry (kafkaval.targets) so the local Prometheus scrapes it, and on
exit stays up until Prometheus has scraped it after the work ended (about two
scrape intervals), so the final counts reach Prometheus.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import requests
from prometheus_client import CollectorRegistry, start_http_server

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.targets import scrape_target
from loadgen.metrics import LoadgenCollector

JOB = "kafkaval-loadgen"


def instance_name(index: int) -> str:
    return f"loadgen-{index}"


def last_scrape(settings: Settings, instance: str) -> float | None:
    """Wall-clock time of Prometheus' latest scrape of ``instance`` (None if unknown)."""
    try:
        r = requests.get(
            f"{settings.prometheus_url.rstrip('/')}/api/v1/query",
            params={"query": f'timestamp(up{{job="{JOB}",instance="{instance}"}})'},
            timeout=2,
        )
        result = r.json()["data"]["result"]
    except (requests.RequestException, ValueError, KeyError):
        return None  # best effort: lingering falls back to its time bound
    return float(result[0]["value"][1]) if result else None


@contextlib.contextmanager
def metrics_endpoint(
    settings: Settings, collector: LoadgenCollector, index: int = 0, linger: bool = True
) -> Iterator[str]:
    """Serve ``collector`` on metrics_port + ``index`` for the block; yields host:port.

    Raises:
        KafkavalError: the port is taken.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    port = settings.metrics_port + index
    try:
        server, thread = start_http_server(port, addr=settings.metrics_host, registry=registry)
    except OSError as e:
        raise KafkavalError(
            f"cannot serve metrics on {settings.metrics_host}:{port}: {e.strerror}; "
            "set metrics_port to a free port"
        ) from e
    address = f"{settings.metrics_host}:{port}"
    instance = instance_name(index)
    try:
        with scrape_target(settings, JOB, instance, address):
            yield address
            if linger:
                wait_scraped(settings, instance, time.time())
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def wait_scraped(settings: Settings, instance: str, after: float) -> bool:
    """Wait until Prometheus scraped ``instance`` after wall time ``after``.

    Bounded by 2.5 scrape intervals plus 2 s; True if the scrape was seen.
    """
    deadline = time.monotonic() + 2.5 * settings.scrape_interval + 2.0
    while time.monotonic() < deadline:
        ts = last_scrape(settings, instance)
        if ts is not None and ts > after + 0.05:
            return True
        time.sleep(0.25)
    return False


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
