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


def test_up_on_another_shapes_data_is_refused_naming_wipe(tmp_path: Path) -> None:
    from kafkaval.errors import UsageError
    from stack import local

    (tmp_path / "stack.json").write_text('{"brokers": 3}')
    for n in (1, 2, 3):
        (tmp_path / "data" / f"broker-{n}").mkdir(parents=True)
        (tmp_path / "data" / f"broker-{n}" / "meta.properties").write_text("node.id=1\n")
    with pytest.raises(
        UsageError, match=r"data of a 3-broker stack, not 1: run `kafkaval stack down --wipe`"
    ) as e:
        local.up(Settings(brokers=1, state_dir=str(tmp_path)))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "pids").exists()  # nothing started


def test_a_health_topic_that_answers_late_is_not_ready_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from concurrent.futures import Future

    from stack import probes

    class SlowAdmin:
        def __init__(self, _config: dict) -> None:
            pass

        def create_topics(self, topics: list, **_kw: object) -> dict:
            return {probes.HEALTH_TOPIC: Future()}  # never completes: a controller election

    monkeypatch.setattr(probes, "admin_client", SlowAdmin)
    assert probes.acked_produce({"bootstrap.servers": "127.0.0.1:1"}, 3, timeout=0.1) is False


def test_a_cluster_that_does_not_serve_names_the_broker_and_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from stack import local, probes

    monkeypatch.setattr(probes, "broker_serving", lambda *_a: False)
    why = {2: "not registered with the controller (fenced: still catching up on metadata)"}
    monkeypatch.setattr(probes, "broker_not_ready", lambda _c, node, _p: why.get(node))
    settings = local.local_settings(Settings(brokers=3, state_dir=str(tmp_path)))
    with pytest.raises(KafkavalError) as e:
        local._wait_ready(settings, [], timeout=0.1)
    message = str(e.value)
    assert "did not serve within 0 s: broker-2 not registered with the controller" in message
    assert "broker-1" not in message and "\n" not in message


def test_a_closed_port_is_named_as_not_listening() -> None:
    from stack.probes import broker_not_ready

    assert broker_not_ready({"bootstrap.servers": "127.0.0.1:9"}, 1, 9) == (
        "not listening on 127.0.0.1:9"
    )


_SPAWN = """
import sys, time
from pathlib import Path
from stack.processes import ManagedProcess
p = ManagedProcess("helper", ["sleep", "60"], Path(sys.argv[1]) / "h.log", Path(sys.argv[1]),
                   die_with_parent=sys.argv[2] == "1")
p.start()
print(p.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("dies", [True, False])
def test_a_run_helper_does_not_outlive_its_killed_parent(tmp_path: Path, dies: bool) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from stack.processes import load_managed

    repo = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen(
        [sys.executable, "-c", _SPAWN, str(tmp_path), "1" if dies else "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    assert parent.stdout is not None
    int(parent.stdout.readline())
    (helper,) = load_managed(tmp_path)
    assert helper.is_running() and helper.die_with_parent is dies
    parent.send_signal(signal.SIGKILL)  # the runner dies without any cleanup
    parent.wait(10)
    deadline = time.monotonic() + 10
    while helper.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert helper.is_running() is not dies
    finally:
        helper.stop(timeout=2)


def test_the_scheduler_waits_longer_than_the_longest_undo() -> None:
    from chaos.faults import LONGEST_UNDO_SECONDS, RESTORE_TIMEOUT
    from scheduler.suites import TERM_GRACE

    assert TERM_GRACE > LONGEST_UNDO_SECONDS >= RESTORE_TIMEOUT
