"""Cold broker start timing in a container: the startup benchmark under Docker.

When the tools run in docker-compose there is no JVM or jar to start a broker
from, but there is the engine and the Kafka image the stack uses
(``startup_image``). A new single-node KRaft container is started from it and
timed like the local JVM (`loadgen.startup`): from the engine's start call
until the broker answers metadata and then acknowledges an ``acks=all``
produce. Unlike the local JVM, formatting the storage is inside the figure:
that is what a fresh container does when it starts.

The container is reached on the network of the container we run in (the
compose network), or, when we run on the host, on a port published on
127.0.0.1. It is labelled ``org.kafkaval.startup`` and always removed,
together with its volume.
"""

from __future__ import annotations

import secrets
import socket
import time
from typing import Any

import docker

from kafkaval.config import Settings
from kafkaval.docker_engine import ENGINE_ERRORS, engine_client
from kafkaval.errors import KafkavalError
from kafkaval.kafka_client import quiet
from loadgen.startup import _FAST_RECONNECT, free_port, time_to_serving

LABEL = "org.kafkaval.startup"


def _own_network(client: Any) -> str | None:
    """The first network of the container this process runs in, or None on the host."""
    try:
        me = client.api.inspect_container(socket.gethostname())
    except ENGINE_ERRORS:
        return None  # not a container of this engine: we run on the host
    networks = (me.get("NetworkSettings") or {}).get("Networks") or {}
    return next(iter(networks), None)


def measure_container_startup(
    settings: Settings, client: Any = None, timeout: float = 90.0
) -> dict[str, Any]:
    """Start a cold Kafka container from ``settings.startup_image``, time it, remove it.

    Returns:
        ``startup_seconds``, ``metadata_seconds``, ``broker_rss_bytes`` (the
        container's memory usage right after it served), ``startup_kind``.

    Raises:
        KafkavalError: no engine, the image is missing, or the broker did not
            serve within ``timeout`` (the container's last log lines are named).
    """
    image = settings.startup_image
    try:
        client = client or engine_client(timeout=60)
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise KafkavalError(
            f"startup image {image} not found: pull or build it, or set startup_image"
        ) from None
    except ENGINE_ERRORS as e:
        raise KafkavalError(
            f"the startup benchmark needs the Docker engine for {image} ({e}): "
            "mount /var/run/docker.sock, or unset startup_image to start a local JVM"
        ) from e
    name = f"kafkaval-startup-{secrets.token_hex(3)}"
    network = _own_network(client)
    if network:
        address, ports = f"{name}:9092", {}
    else:
        port = free_port()
        address, ports = f"127.0.0.1:{port}", {"9092/tcp": ("127.0.0.1", port)}
    env = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{address}",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_HEAP_OPTS": f"-Xms{settings.broker_heap} -Xmx{settings.broker_heap}",
    }
    container = None
    try:
        container = client.containers.create(
            image, name=name, hostname=name, environment=env, labels={LABEL: "1"},
            network=network, ports=ports, detach=True,
        )  # fmt: skip
        client_config = quiet({"bootstrap.servers": address, **_FAST_RECONNECT})

        def check() -> None:
            container.reload()
            if container.status not in ("created", "running"):
                tail = container.logs(tail=8).decode(errors="replace")
                raise KafkavalError(f"the startup container exited ({container.status}):\n{tail}")

        t0 = time.monotonic()
        container.start()
        metadata_s, serving_s = time_to_serving(client_config, t0, timeout, check)
        stats = container.stats(stream=False)
        rss = (stats.get("memory_stats") or {}).get("usage")
    except ENGINE_ERRORS as e:
        raise KafkavalError(f"cannot run the startup container from {image}: {e}") from e
    finally:
        if container is not None:
            try:
                container.remove(force=True, v=True)
            except ENGINE_ERRORS:
                pass  # best effort: labelled org.kafkaval.startup for a manual cleanup
    return {
        "startup_seconds": serving_s,
        "metadata_seconds": metadata_s,
        "broker_rss_bytes": rss,
        "startup_kind": f"container from {image}",
    }
