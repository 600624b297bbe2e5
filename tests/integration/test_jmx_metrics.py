"""Broker-side metrics: the JMX exporter agent on real brokers, scraped by the real Prometheus."""

from __future__ import annotations

import signal
import uuid

import pytest
from confluent_kafka import Producer

from kafkaval.config import Settings
from kafkaval.kafka_admin import create_topics
from kafkaval.prom_client import PromClient
from kafkaval.waiting import wait_until
from stack import local
from stack.processes import find_managed

pytestmark = pytest.mark.integration

JOB = 'job="kafka-broker"'


def _values(prom: PromClient, expr: str) -> list[float]:
    return [s.value for s in prom.query(expr)]


def _wait_value(prom: PromClient, expr: str, ok, timeout: float, what: str) -> float:  # noqa: ANN001
    got: list[float] = []

    def check() -> bool:
        got[:] = _values(prom, expr)
        return len(got) == 1 and ok(got[0])

    assert wait_until(check, timeout, 0.5), f"{what}: {expr} gave {got} after {timeout}s"
    return got[0]


def test_broker_metrics_exist_with_sane_values(stack_settings: Settings) -> None:
    prom = PromClient(stack_settings.prometheus_url)
    _wait_value(prom, f"up{{{JOB},instance='broker-1'}}", lambda v: v == 1, 60, "agent scraped")
    topic = f"{stack_settings.topic_prefix}it-jmx-{uuid.uuid4().hex[:8]}"
    create_topics(stack_settings, [topic], 1, 1)
    producer = Producer({**stack_settings.client_config("producer"), "acks": "all"})
    payload = b"x" * 1000
    for _ in range(300):
        producer.produce(topic, payload)
    assert producer.flush(30) == 0

    sel = f'{JOB},topic="{topic}"'
    # Kafka counts every message and at least its payload bytes in; nothing is invented.
    _wait_value(
        prom,
        f"kafka_server_brokertopicmetrics_messagesin_total{{{sel}}}",
        lambda v: v == 300,
        60,
        "messages in",
    )
    bytes_in = _values(prom, f"kafka_server_brokertopicmetrics_bytesin_total{{{sel}}}")
    assert len(bytes_in) == 1 and 300 * 1000 <= bytes_in[0] < 300 * 1000 * 1.5

    # One active controller, nothing under-replicated or offline on a healthy broker.
    assert _values(
        prom, f"sum(kafka_controller_kafkacontroller_activecontrollercount{{{JOB}}})"
    ) == [1]
    assert _values(prom, f"kafka_server_replicamanager_underreplicatedpartitions{{{JOB}}}") == [0]
    assert _values(prom, f"kafka_controller_kafkacontroller_offlinepartitionscount{{{JOB}}}") == [0]
    assert _values(prom, f"kafka_server_replicamanager_partitioncount{{{JOB}}}")[0] >= 1

    # Produce requests were timed: a count, and a p99 total time that is a duration in ms.
    count = _values(
        prom, f'kafka_network_requestmetrics_totaltimems_count{{{JOB},request="Produce"}}'
    )
    assert count and count[0] >= 1
    p99 = _values(
        prom, f'kafka_network_requestmetrics_totaltimems{{{JOB},request="Produce",quantile="0.99"}}'
    )
    assert p99 and 0 <= p99[0] < 60_000
    # Handler pool idle fraction over a window: between 0 and 1.
    idle = _wait_value(
        prom,
        f"rate(kafka_server_kafkarequesthandlerpool_"
        f"requesthandleravgidlepercent_total{{{JOB}}}[30s]) / 1e9",
        lambda v: 0 <= v <= 1.05,
        60,
        "request handler idle",
    )
    assert idle > 0
    # JVM: the heap in use is real and below its maximum (-Xmx).
    used = _values(prom, f'jvm_memory_used_bytes{{{JOB},area="heap"}}')[0]
    limit = _values(prom, f'jvm_memory_max_bytes{{{JOB},area="heap"}}')[0]
    assert 1 << 20 < used <= limit


def test_broker_restart_makes_urp_rise_then_heal(cluster_settings: Settings) -> None:
    """A 3-broker cluster loses broker-3: Prometheus shows URP > 0, then 0 once it is back."""
    prom = PromClient(cluster_settings.prometheus_url)
    up = f"sum(up{{{JOB}}})"
    _wait_value(prom, up, lambda v: v == 3, 90, "three agents scraped")
    topic = f"{cluster_settings.topic_prefix}it-urp-{uuid.uuid4().hex[:8]}"
    create_topics(cluster_settings, [topic], 3, 3)
    urp = f"sum(kafka_server_replicamanager_underreplicatedpartitions{{{JOB}}})"
    _wait_value(prom, urp, lambda v: v == 0, 90, "a healthy cluster first")
    victim = find_managed(cluster_settings.path("state_dir") / "pids", "broker-3")
    victim.signal(signal.SIGKILL)  # no controlled shutdown: its replicas just vanish
    try:
        assert victim.wait_exit(30)
        # Partitions of the new topic (RF 3) led by broker-1/2 lose a replica.
        _wait_value(prom, urp, lambda v: v > 0, 90, "URP after broker-3 died")
    finally:
        local.up(cluster_settings)  # starts only what is missing: broker-3
    _wait_value(prom, up, lambda v: v == 3, 90, "broker-3's agent scraped again")
    _wait_value(prom, urp, lambda v: v == 0, 120, "URP healed after broker-3 rejoined")
