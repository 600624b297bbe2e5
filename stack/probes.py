"""Readiness probes: is a broker serving, is Prometheus ready.

"Serving" means what a client needs, not that a port is open: the broker
answers a metadata request and acknowledges an ``acks=all`` produce.
"""

from __future__ import annotations

import socket
from concurrent.futures import TimeoutError as FutureTimeout

import requests
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import NewTopic

from kafkaval.kafka_admin import admin_client
from kafkaval.kafka_client import quiet

HEALTH_TOPIC = "__kafkaval_health"


def answers_metadata(client_config: dict[str, str], timeout: float = 2.0) -> bool:
    try:
        md = admin_client(client_config).list_topics(timeout=timeout)
    except KafkaException:
        return False
    return bool(md.brokers)


def acked_produce(client_config: dict[str, str], replication: int, timeout: float = 5.0) -> bool:
    """Produce one message with acks=all to the health topic; True if acked."""
    admin = admin_client(client_config)
    futures = admin.create_topics(
        [NewTopic(HEALTH_TOPIC, num_partitions=1, replication_factor=replication)],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    try:
        futures[HEALTH_TOPIC].result(timeout=timeout)
    except FutureTimeout:
        # A cluster still electing a controller or catching up answers late:
        # not ready yet, never a traceback.
        return False
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            return False
    producer = Producer(
        {**quiet(client_config), "acks": "all", "message.timeout.ms": int(timeout * 1000)}
    )
    outcome: list[bool] = []
    try:
        producer.produce(
            HEALTH_TOPIC, b"ping", on_delivery=lambda err, _m: outcome.append(err is None)
        )
    except (BufferError, KafkaException):
        return False
    producer.flush(timeout)
    return outcome == [True]


def broker_not_ready(client_config: dict[str, str], node_id: int, port: int) -> str | None:
    """Why broker ``node_id`` (listening on 127.0.0.1:``port``) does not serve yet; None if
    it looks ready: not listening, not registered with the cluster, or out of sync."""
    if not port_open(port):
        return f"not listening on 127.0.0.1:{port}"
    try:
        md = admin_client(client_config).list_topics(timeout=5)
    except KafkaException as e:
        return f"the cluster answers no metadata request ({e.args[0].str()})"
    if node_id not in md.brokers:
        return "not registered with the controller (fenced: still catching up on metadata)"
    health = md.topics.get(HEALTH_TOPIC)
    for p, pm in sorted((health.partitions if health is not None else {}).items()):
        if node_id in pm.replicas and node_id not in pm.isrs:
            return f"not in sync for {HEALTH_TOPIC}-{p} (ISR {sorted(pm.isrs)}): catching up"
        if pm.leader < 0:
            return f"{HEALTH_TOPIC}-{p} has no leader yet (leader election)"
    return None


def broker_serving(client_config: dict[str, str], replication: int = 1) -> bool:
    return answers_metadata(client_config) and acked_produce(client_config, replication)


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """True if a TCP connect to host:port succeeds within ``timeout``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def prometheus_ready(url: str, timeout: float = 2.0) -> bool:
    try:
        return requests.get(f"{url.rstrip('/')}/-/ready", timeout=timeout).status_code == 200
    except requests.RequestException:
        return False
