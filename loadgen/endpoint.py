"""The loadgen's /metrics endpoint: serve, register for Prometheus, linger.

The endpoint serves a private registry holding the LoadgenCollector, writes
a file_sd entry (kafkaval.targets) so the local Prometheus scrapes it, and on
exit stays up until Prometheus has scraped it after the work ended (about two
scrape intervals), so the final counts reach Prometheus.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.tags import tagged
from kafkaval.targets import MetricsServer, announced

JOB = "kafkaval-loadgen"


def instance_name(index: int) -> str:
    return f"loadgen-{index}"


@contextlib.contextmanager
def metrics_endpoint(
    settings: Settings,
    collector: Collector,
    index: int = 0,
    linger: bool = True,
    tags: Mapping[str, str] | None = None,
    port: int | None = None,
) -> Iterator[str]:
    """Serve ``collector`` on ``port`` (default metrics_port + ``index``); yields host:port.

    ``tags`` (the run's) are added as labels to every sample.

    Raises:
        KafkavalError: the port is taken.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(tagged(collector, tags))
    port = settings.metrics_port + index if port is None else port
    try:
        server = MetricsServer(registry, settings.metrics_host, port)
    except OSError as e:
        raise KafkavalError(
            f"cannot serve metrics on {settings.metrics_host}:{port}: {e.strerror}; "
            "set metrics_port to a free port"
        ) from e
    with announced(settings, server, JOB, instance_name(index), linger) as address:
        yield address
