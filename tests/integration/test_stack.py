"""The local real stack: Kafka (KRaft) and Prometheus as processes."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest
import requests
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry, Counter, start_http_server

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.kafka_admin import create_topics
from kafkaval.kafka_client import quiet
from kafkaval.targets import scrape_target
from kafkaval.waiting import wait_until
from stack import local, probes
from stack.processes import find_managed, load_managed

pytestmark = pytest.mark.integration


def _wait(cond, timeout: float, what: str) -> None:  # noqa: ANN001
    assert wait_until(cond, timeout, 0.25), f"timed out after {timeout}s waiting for {what}"


def _create_topic(settings: Settings, name: str, rf: int, partitions: int = 3) -> None:
    # The product's helper: it waits for leaders and retries librdkafka's
    # transient bootstrap errors, which a bare create_topics() does not.
    create_topics(settings, [name], partitions, rf)


def test_produce_consume_round_trip(stack_settings: Settings) -> None:
    topic = f"it-roundtrip-{uuid.uuid4().hex[:8]}"
    _create_topic(stack_settings, topic, 1)
    producer = Producer({**stack_settings.client_config("producer"), "acks": "all"})
    acked: list[tuple[int, int]] = []
    values = [f"m{i}".encode() for i in range(100)]
    for v in values:
        producer.produce(
            topic,
            v,
            on_delivery=lambda err, m: (
                acked.append((m.partition(), m.offset())) if err is None else None
            ),
        )
    assert producer.flush(30) == 0
    assert len(acked) == 100
    consumer = Consumer(
        {
            **stack_settings.client_config("consumer"),
            "group.id": f"it-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    seen: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while len(seen) < 100 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                seen.append(msg.value())
    finally:
        consumer.close()
    assert sorted(seen) == sorted(values)


def test_prometheus_scrapes_a_registered_target(stack_settings: Settings) -> None:
    registry = CollectorRegistry()
    Counter("kafkaval_it_probe", "integration probe", registry=registry).inc(7)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        with scrape_target(stack_settings, "it-probe", "one", f"127.0.0.1:{port}"):
            url = f"{stack_settings.prometheus_url}/api/v1/query"

            def scraped() -> bool:
                r = requests.get(url, params={"query": 'up{job="it-probe"}'}, timeout=5).json()
                res = r["data"]["result"]
                return bool(res) and res[0]["value"][1] == "1"

            _wait(scraped, 60, "Prometheus to scrape the probe target")
            r = requests.get(url, params={"query": "kafkaval_it_probe_total"}, timeout=5).json()
            assert float(r["data"]["result"][0]["value"][1]) == 7.0
    finally:
        server.shutdown()


def test_stack_exporter_reports_its_processes(stack_settings: Settings) -> None:
    url = f"{stack_settings.prometheus_url}/api/v1/query"

    def series(name: str) -> list[dict]:
        q = f'container_memory_usage_bytes{{job="exporter",name="{name}"}}'
        return requests.get(url, params={"query": q}, timeout=5).json()["data"]["result"]

    _wait(lambda: bool(series("broker-1")), 60, "the stack exporter's broker-1 series")
    # A JVM with a 512 MiB heap uses well over 100 MiB: the number is real.
    assert float(series("broker-1")[0]["value"][1]) > 100 * 2**20
    assert series("prometheus")


def test_cluster_survives_one_broker_down(cluster_settings: Settings) -> None:
    assert len(cluster_settings.bootstrap_servers.split(",")) == 3
    topic = f"it-rf3-{uuid.uuid4().hex[:8]}"
    _create_topic(cluster_settings, topic, 3)
    md = AdminClient(quiet(cluster_settings.client_config())).list_topics(topic, timeout=10)
    assert all(len(p.replicas) == 3 for p in md.topics[topic].partitions.values())
    pid_dir = cluster_settings.path("state_dir") / "pids"
    victim = find_managed(pid_dir, "broker-2")
    victim.stop(timeout=30)
    try:
        producer = Producer(
            {
                **quiet(cluster_settings.client_config("producer")),
                "acks": "all",
                "enable.idempotence": "true",
                "message.timeout.ms": 60000,
            }
        )
        errors: list[object] = []
        acked = []
        for i in range(50):
            producer.produce(
                topic,
                f"x{i}".encode(),
                on_delivery=lambda err, m: (
                    acked.append(m.offset()) if err is None else errors.append(err)
                ),
            )
        producer.flush(90)
        assert errors == [] and len(acked) == 50
    finally:
        # `up` on a partly running stack starts only what is missing.
        local.up(cluster_settings)
    assert find_managed(pid_dir, "broker-2").is_running()


def test_up_restarts_brokers_of_a_cluster_most_of_which_died_abruptly(
    cluster_settings: Settings,
) -> None:
    """Two of three brokers killed -9 (no quorum left): `up` restarts them and waits out
    the leader election and catch-up instead of failing with a traceback."""
    pid_dir = cluster_settings.path("state_dir") / "pids"
    survivor = find_managed(pid_dir, "broker-1")
    for name in ("broker-2", "broker-3"):
        victim = find_managed(pid_dir, name)
        victim.signal(signal.SIGKILL)
        assert victim.wait_exit(10)
    info = local.up(cluster_settings)
    assert not info.already_running
    assert {p.name for p in info.processes} >= {"broker-1", "broker-2", "broker-3"}
    assert find_managed(pid_dir, "broker-1").pid == survivor.pid  # the survivor kept
    assert probes.broker_serving(cluster_settings.client_config(), 3)


def test_up_with_another_broker_count_on_stopped_data_is_refused(tmp_path: Path) -> None:
    settings = _isolated(tmp_path, 700)
    try:
        local.up(settings)
    finally:
        local.down(settings)
    with pytest.raises(UsageError, match="data of a 1-broker stack, not 3.*--wipe"):
        local.up(dataclasses.replace(settings, brokers=3))
    assert local.running(settings) == []


def _isolated(tmp_path: Path, offset: int, **changes: object) -> Settings:
    base = int(os.environ.get("KAFKAVAL_TEST_PORT_OFFSET", "0")) + offset
    return Settings(
        state_dir=str(tmp_path / "state"),
        cache_dir=str(Path(__file__).resolve().parents[2] / ".cache"),
        broker_port=28092 + base,
        controller_port=28192 + base,
        prometheus_port=28090 + base,
        metrics_port=28400 + base,
        jmx_port=28600 + base,
        **changes,  # type: ignore[arg-type]
    )


def _our_processes(state_dir: Path) -> list[int]:
    """Pids of any process whose command line mentions the state dir."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(state_dir).encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def test_up_twice_then_down_leaves_nothing(tmp_path: Path) -> None:
    settings = _isolated(tmp_path, 0)
    try:
        first = local.up(settings)
        second = local.up(settings)
        assert not first.already_running and second.already_running
        assert sorted(p.name for p in second.processes) == ["broker-1", "exporter", "prometheus"]
    finally:
        stopped = local.down(settings)
    assert sorted(stopped) == ["broker-1", "exporter", "prometheus"]
    assert _our_processes(settings.path("state_dir")) == []
    assert load_managed(settings.path("state_dir") / "pids") == []


def test_stale_pid_file_is_recovered(tmp_path: Path) -> None:
    settings = _isolated(tmp_path, 3)
    try:
        local.up(settings)
        broker = find_managed(settings.path("state_dir") / "pids", "broker-1")
        broker.signal(9)
        assert broker.wait_exit(30)
        # The pid file still names a dead process; up must notice and restart it.
        info = local.up(settings)
        assert not info.already_running
        assert find_managed(settings.path("state_dir") / "pids", "broker-1").is_running()
    finally:
        local.down(settings)
    assert _our_processes(settings.path("state_dir")) == []


def test_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    settings = _isolated(tmp_path, 6)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", settings.broker_port))
        blocker.listen()
        with pytest.raises(KafkavalError, match=f"port {settings.broker_port} .* already in use"):
            local.up(settings)
    assert _our_processes(settings.path("state_dir")) == []


def test_jmx_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    settings = _isolated(tmp_path, 12)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", settings.jmx_port))
        blocker.listen()
        with pytest.raises(
            KafkavalError,
            match=f"port {settings.jmx_port} .*broker-1 JMX exporter.* already in use.*jmx_port",
        ):
            local.up(settings)
    assert _our_processes(settings.path("state_dir")) == []


def test_broker_exiting_during_startup_stops_everything(tmp_path: Path) -> None:
    settings = dataclasses.replace(_isolated(tmp_path, 9), broker_heap="notasize")
    with pytest.raises(
        KafkavalError, match=r"broker-1 exited during startup; read .*broker-1\.log"
    ):
        local.up(settings)
    assert _our_processes(settings.path("state_dir")) == []
