"""Cold broker start timing: a new broker process in a temporary state dir.

Storage is formatted first (not timed: a fresh Kafka install does it once);
the clock runs from starting the JVM until the broker answers a metadata
request and then until it acknowledges an ``acks=all`` produce. The probes
keep one client each that reconnects every 50-100 ms, so the figure is not
rounded up to a probe's timeout.
"""

from __future__ import annotations

import dataclasses
import socket
import tempfile
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.kafka_client import quiet
from stack import kafka
from stack.jars import ensure_kafka_jars, require_java
from stack.processes import rss_bytes

TOPIC = "kafkaval.startup"
_FAST_RECONNECT = {"reconnect.backoff.ms": "50", "reconnect.backoff.max.ms": "100"}


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure_startup(settings: Settings, timeout: float = 60.0) -> dict[str, Any]:
    """Start a cold single broker on free ports, time it, stop it, delete its data.

    Returns:
        ``startup_seconds`` (to an acked produce), ``metadata_seconds``,
        ``broker_rss_bytes`` right after it served.

    Raises:
        KafkavalError: java/jars missing, or the broker did not serve within ``timeout``.
    """
    require_java()
    with tempfile.TemporaryDirectory(prefix="kafkaval-startup-") as tmp:
        s = dataclasses.replace(
            settings,
            brokers=1,
            state_dir=tmp,
            broker_port=free_port(),
            controller_port=free_port(),
        )
        classpath = ensure_kafka_jars(s)
        brokers = kafka.brokers_of(s)
        proc = kafka.prepare_broker(brokers[0], brokers, classpath, kafka.new_cluster_id(), s)
        client = quiet({"bootstrap.servers": brokers[0].address, **_FAST_RECONNECT})

        def check() -> None:
            if not proc.is_running():
                raise KafkavalError(
                    f"the startup broker exited; read {proc.log}:\n{proc.log_tail(8)}"
                )

        try:
            t0 = time.monotonic()
            proc.start()
            metadata_s, serving_s = time_to_serving(client, t0, timeout, check)
            rss = rss_bytes(proc.pid) if proc.pid else None
        finally:
            proc.stop(timeout=20)
    return {
        "startup_seconds": serving_s,
        "metadata_seconds": metadata_s,
        "broker_rss_bytes": rss,
        "startup_kind": "local JVM from the Kafka jars",
    }


def time_to_serving(
    client: dict[str, Any], t0: float, timeout: float, check: Callable[[], None]
) -> tuple[float, float]:
    """Seconds from ``t0`` until the broker answers metadata, and until it acks a produce.

    One client per probe, kept across polls: it reconnects every 50-100 ms,
    so the times are not rounded up to a probe's timeout. ``check`` raises
    when the broker died (then waiting longer is pointless).

    Raises:
        KafkavalError: not serving within ``timeout`` s, or the produce was rejected.
    """
    admin = AdminClient(client)
    metadata_s = _until(lambda: _metadata(admin), t0, timeout, check)
    producer = Producer({**client, "acks": "all", "message.timeout.ms": int(timeout * 1000)})
    outcome: list[bool] = []
    # Auto topic creation answers the first produce; librdkafka retries while
    # the topic's leader is being elected.
    producer.produce(TOPIC, b"ping", on_delivery=lambda e, _m: outcome.append(e is None))
    serving_s = _until(lambda: producer.poll(0.05) >= 0 and bool(outcome), t0, timeout, check)
    if outcome != [True]:
        raise KafkavalError("the cold broker rejected the first produce")
    return metadata_s, serving_s


def _until(cond: Callable[[], bool], t0: float, timeout: float, check: Callable[[], None]) -> float:
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        check()
        time.sleep(0.05)
    raise KafkavalError(f"a cold broker did not serve within {timeout:.0f} s")


def _metadata(admin: AdminClient) -> bool:
    try:
        md = admin.list_topics(timeout=0.25)
    except KafkaException:
        return False
    return bool(md.brokers)
