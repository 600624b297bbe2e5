"""Missing tools give one line naming the cause and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from stack import jars, kafka, prometheus
from stack.kafka import Broker, server_properties
from stack.processes import ManagedProcess, load_managed


def test_java_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(KafkavalError, match="java not found on PATH: install a Java 17"):
        jars.require_java()


def test_maven_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(KafkavalError, match="mvn not found on PATH: install Apache Maven"):
        jars.ensure_kafka_jars(Settings(cache_dir=str(tmp_path)))
    assert list(tmp_path.iterdir()) == []  # nothing half-downloaded


def test_cached_jars_are_not_fetched_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = Settings(cache_dir=str(tmp_path))
    target = jars.kafka_classpath_dir(settings)
    target.mkdir()
    (target / jars.COMPLETE_MARKER).write_text("4.3.0\n")
    monkeypatch.setenv("PATH", "/nonexistent")  # Maven would be needed for a download
    assert jars.ensure_kafka_jars(settings) == target


def test_prometheus_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(prometheus.Path, "exists", lambda self: False)
    with pytest.raises(KafkavalError, match="prometheus not found on PATH: install it"):
        prometheus.find_prometheus()


def test_cluster_properties_are_safe(tmp_path: Path) -> None:
    brokers = [
        Broker(i, 9092 + i, 9192 + i, tmp_path / str(i), tmp_path / f"{i}.p", tmp_path / f"{i}.log")
        for i in (1, 2, 3)
    ]
    props = dict(line.split("=", 1) for line in server_properties(brokers[1], brokers).splitlines())
    assert props["min.insync.replicas"] == "2"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9193,2@127.0.0.1:9194,3@127.0.0.1:9195"
    assert props["listeners"].startswith("PLAINTEXT://127.0.0.1:9094,")


def test_torn_and_stale_pid_files(tmp_path: Path) -> None:
    (tmp_path / "torn.json").write_text("{not json")
    stale = ManagedProcess("old", ["true"], tmp_path / "x.log", tmp_path, pid=999999, start_ticks=1)
    stale.save()
    procs = load_managed(tmp_path)
    assert [p.name for p in procs] == ["old"]
    assert not procs[0].is_running()
    assert not (tmp_path / "torn.json").exists()


def test_cluster_id_never_starts_with_a_dash() -> None:
    # base64url of 0xf8... starts with "-": kafka-storage would read it as a flag.
    draws = iter([bytes([0xF8]) + bytes(15), bytes([0x10]) + bytes(15)])
    cid = kafka.new_cluster_id(lambda: next(draws))
    assert cid == "EAAAAAAAAAAAAAAAAAAAAA" and len(cid) == 22
    assert all(not kafka.new_cluster_id().startswith("-") for _ in range(2000))
