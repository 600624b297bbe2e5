"""Run the exporter: sampler thread + HTTP /metrics on its own registry."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from exporter.collector import ContainerCollector
from exporter.lag import ConsumerLagCollector, PartitionLag
from exporter.sample import TargetSample
from exporter.sampler import Sampler, Source
from kafkaval.errors import KafkavalError
from kafkaval.targets import MetricsServer


@dataclass
class RunningExporter:
    sampler: Sampler[TargetSample]
    registry: CollectorRegistry
    port: int  # the bound port (useful when 0 was asked for)
    lag_sampler: Sampler[PartitionLag] | None = None


@contextlib.contextmanager
def serve(
    source: Source[TargetSample],
    address: str = "127.0.0.1",
    port: int = 0,
    interval: float = 2.0,
    lag_source: Source[PartitionLag] | None = None,
) -> Iterator[RunningExporter]:
    """Sample ``source`` in the background and serve /metrics until the block ends.

    Args:
        source: where samples come from.
        address: listen address (0.0.0.0 inside a container).
        port: TCP port; 0 picks a free one.
        interval: seconds between sampling rounds.
        lag_source: consumer-group offsets to serve as lag series too (its own
            sampler thread, so a slow Kafka never delays the container stats).

    Raises:
        KafkavalError: the port cannot be bound.
    """
    registry = CollectorRegistry(auto_describe=False)
    sampler = Sampler(source, interval=interval)
    registry.register(ContainerCollector(sampler))
    lag_sampler = Sampler(lag_source, interval=interval) if lag_source is not None else None
    if lag_sampler is not None:
        registry.register(ConsumerLagCollector(lag_sampler))
    try:
        server = MetricsServer(registry, address, port)
    except OSError as e:
        source.close()
        raise KafkavalError(
            f"cannot listen on {address}:{port} ({e.strerror}): choose another --port"
        ) from e
    sampler.start()
    if lag_sampler is not None:
        lag_sampler.start()
    try:
        yield RunningExporter(sampler, registry, server.port, lag_sampler)
    finally:
        server.close()
        sampler.stop()
        if lag_sampler is not None:
            lag_sampler.stop()


def wait_forever(stop: threading.Event) -> None:
    """Block until ``stop`` is set (by a signal handler)."""
    while not stop.wait(3600):
        pass
