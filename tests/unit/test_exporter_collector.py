"""Collector, sampler and sources with fakes at the boundary (no engine, no network)."""

from __future__ import annotations

import json
from pathlib import Path

import docker
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from exporter.collector import ContainerCollector
from exporter.docker_source import DockerSource
from exporter.errors import SourceUnavailable
from exporter.process_source import ProcessSource
from exporter.sample import TargetSample, Usage
from exporter.sampler import Sampler
from stack.processes import ManagedProcess

DATA = Path(__file__).parent / "data"


class FlakySource:
    kind = "docker"

    def __init__(self) -> None:
        self.up = True
        self.targets = [
            TargetSample("kafka-1", "kafkaval/kafka:4.3.0", "kafka", True, 1.7e9, 0,
                         Usage(3.5, 100, 60, 0, 10, 20, 30, 40)),
            TargetSample("stopped", "img", "", False, None, 2, None),
        ]  # fmt: skip

    def sample(self) -> list[TargetSample]:
        if not self.up:
            raise SourceUnavailable("Docker engine unreachable: gone")
        return self.targets

    def close(self) -> None:
        pass


def scrape(sampler: Sampler) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ContainerCollector(sampler))
    return generate_latest(registry).decode()


def test_serves_last_sample_and_engine_outage_recovers() -> None:
    source = FlakySource()
    sampler = Sampler(source)  # type: ignore[arg-type]
    assert 'kafkaval_exporter_up{source="docker"} 0.0' in scrape(sampler)  # nothing sampled yet
    sampler.sample_once()
    text = scrape(sampler)
    assert 'kafkaval_exporter_up{source="docker"} 1.0' in text
    labels = (
        'container_label_com_docker_compose_service="kafka",id="",'
        'image="kafkaval/kafka:4.3.0",name="kafka-1"'
    )
    assert f"container_cpu_usage_seconds_total{{{labels}}} 3.5" in text
    assert f"container_memory_working_set_bytes{{{labels}}} 60.0" in text
    # processes and fakes without per-device figures: one series, device label empty
    assert (
        'container_fs_writes_bytes_total{container_label_com_docker_compose_service="kafka",'
        'device="",id="",image="kafkaval/kafka:4.3.0",name="kafka-1"} 40.0' in text
    )
    assert f"kafkaval_container_running{{{labels}}} 1.0" in text
    assert (
        'kafkaval_container_restarts_total{container_label_com_docker_compose_service="",'
        'id="",image="img",name="stopped"} 2.0' in text
    )
    # a stopped container has no usage series
    assert not any(
        ln.startswith("container_") and 'name="stopped"' in ln for ln in text.splitlines()
    )
    source.up = False
    sampler.sample_once()
    text = scrape(sampler)
    assert 'kafkaval_exporter_up{source="docker"} 0.0' in text
    assert "container_cpu_usage_seconds_total{" not in text
    source.up = True
    sampler.sample_once()
    assert 'kafkaval_exporter_up{source="docker"} 1.0' in scrape(sampler)


class FakeAPI:
    """The few low-level docker-py calls DockerSource makes."""

    def __init__(self) -> None:
        self.stats_doc = json.loads((DATA / "docker-stats-cgroup1.json").read_text())
        self.started_at = "2026-12-01T11:38:18.365070507Z"
        self.vanish = False

    def containers(self, all: bool, filters: dict | None) -> list[dict]:  # noqa: A002
        self.filters = filters
        return [
            {"Id": "a" * 64, "Names": ["/kafka-1"], "Image": "kafkaval/kafka:4.3.0",
             "Labels": {"com.docker.compose.service": "kafka"}},
            {"Id": "b" * 64, "Names": ["/gone"], "Image": "x", "Labels": {}},
        ]  # fmt: skip

    def inspect_container(self, cid: str) -> dict:
        if cid.startswith("b"):
            raise docker.errors.NotFound("no such container")  # vanished mid-sample
        return {
            "State": {"Running": True, "Paused": False, "StartedAt": self.started_at},
            "RestartCount": 0,
            "HostConfig": {"Memory": 268435456},
        }

    def stats(self, cid: str, stream: bool, one_shot: bool) -> dict:
        assert stream is False and one_shot is True
        return self.stats_doc


class FakeClient:
    def __init__(self) -> None:
        self.api = FakeAPI()

    def close(self) -> None:
        pass


def test_docker_source_skips_vanished_and_counts_restarts() -> None:
    client = FakeClient()
    source = DockerSource(lambda: client, labels=["team=a"], compose_project="proj", workers=4)
    try:
        first = source.sample()
        assert [s.name for s in first] == ["kafka-1"]
        assert client.api.filters == {"label": ["team=a", "com.docker.compose.project=proj"]}
        assert first[0].usage is not None and first[0].usage.memory_limit_bytes == 268435456
        assert first[0].restarts == 0
        client.api.started_at = "2026-12-01T12:00:00.000000001Z"  # docker restart
        assert source.sample()[0].restarts == 1
    finally:
        source.close()


def test_docker_source_engine_error_is_source_unavailable() -> None:
    def broken() -> FakeClient:
        raise docker.errors.DockerException("Error while fetching server API version")

    source = DockerSource(broken, workers=1)
    with pytest.raises(SourceUnavailable):
        source.sample()
    source.close()


def test_process_source_reads_fake_proc(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    (proc / "stat").write_text("cpu 1 2 3\nbtime 1700000000\n")
    fields = ["S"] + ["0"] * 10 + ["250", "150"] + ["0"] * 6 + ["1000"] + ["0"] * 10
    (proc / "4242" / "stat").write_text("4242 (java main) " + " ".join(fields) + "\n")
    (proc / "4242" / "status").write_text(
        "Name:\tjava\nVmRSS:\t  2048 kB\nRssAnon:\t  1024 kB\n"
        "RssFile:\t 1000 kB\nRssShmem:\t 24 kB\n"
    )
    (proc / "4242" / "io").write_text("read_bytes: 4096\nwrite_bytes: 8192\n")

    class Running(ManagedProcess):
        def is_running(self) -> bool:
            return True

    mp = Running("broker-1", ["java", "-cp"], tmp_path / "log", tmp_path, pid=4242)
    source = ProcessSource(tmp_path, proc=proc, lister=lambda _d: [mp])
    (sample,) = source.sample()
    ticks = source._ticks
    assert sample.name == "broker-1" and sample.image == "java" and sample.running
    assert sample.usage is not None
    assert sample.usage.cpu_seconds == pytest.approx(400 / ticks)
    assert sample.usage.memory_usage_bytes == 2048 * 1024
    assert sample.usage.memory_working_set_bytes == (1024 + 24) * 1024
    assert (sample.usage.fs_read_bytes, sample.usage.fs_write_bytes) == (4096, 8192)
    assert sample.usage.network_receive_bytes is None
    assert sample.start_time_seconds == pytest.approx(1700000000 + 1000 / ticks)
