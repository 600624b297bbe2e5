"""The JMX exporter agent: its command-line option, file_sd entries, rules files.

The rules are checked by applying them the way the agent does (first matching
rule wins, ``$n`` replaced by groups, names lowercased when configured) to
MBean strings in the agent's format, copied from a real 4.3 broker's and
Connect worker's MBeans: the names the dashboards, alerts and reports query
must come out of them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kafkaval.config import Settings, load_settings
from kafkaval.errors import KafkavalError, UsageError
from stack import jmx
from stack.kafka import java_argv


def _rules(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def _apply(config: dict[str, Any], bean: str) -> tuple[str, dict[str, str]] | None:
    """(name, labels) of the first rule matching ``bean``, None if no rule does."""
    for rule in config["rules"]:
        m = re.fullmatch(rule["pattern"], bean)
        if not m:
            continue

        def sub(text: str, m: re.Match[str] = m) -> str:
            return re.sub(r"\$(\d+)", lambda g: m.group(int(g.group(1))) or "", text)

        name = re.sub(r"[^a-zA-Z0-9_:]", "_", sub(rule["name"]))
        if config.get("lowercaseOutputName"):
            name = name.lower()
        return name, {k: sub(v) for k, v in (rule.get("labels") or {}).items()}
    return None


BROKER_BEANS = {
    "kafka.server<type=ReplicaManager, name=UnderReplicatedPartitions><>Value": (
        "kafka_server_replicamanager_underreplicatedpartitions",
        {},
    ),
    "kafka.server<type=ReplicaManager, name=IsrShrinksPerSec><>Count": (
        "kafka_server_replicamanager_isrshrinks_total",
        {},
    ),
    "kafka.server<type=ReplicaManager, name=IsrExpandsPerSec><>Count": (
        "kafka_server_replicamanager_isrexpands_total",
        {},
    ),
    "kafka.controller<type=KafkaController, name=ActiveControllerCount><>Value": (
        "kafka_controller_kafkacontroller_activecontrollercount",
        {},
    ),
    "kafka.controller<type=KafkaController, name=OfflinePartitionsCount><>Value": (
        "kafka_controller_kafkacontroller_offlinepartitionscount",
        {},
    ),
    "kafka.server<type=BrokerTopicMetrics, name=BytesInPerSec, topic=kafkaval.t><>Count": (
        "kafka_server_brokertopicmetrics_bytesin_total",
        {"topic": "kafkaval.t"},
    ),
    "kafka.server<type=BrokerTopicMetrics, name=MessagesInPerSec><>Count": (
        "kafka_server_brokertopicmetrics_messagesin_total",
        {},
    ),
    "kafka.network<type=RequestMetrics, name=TotalTimeMs, request=Produce><>99thPercentile": (
        "kafka_network_requestmetrics_totaltimems",
        {"request": "Produce", "quantile": "0.99"},
    ),
    "kafka.network<type=RequestMetrics, name=RemoteTimeMs, request=FetchConsumer><>Count": (
        "kafka_network_requestmetrics_remotetimems_count",
        {"request": "FetchConsumer"},
    ),
    "kafka.server<type=KafkaRequestHandlerPool, name=RequestHandlerAvgIdlePercent><>Count": (
        "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_total",
        {},
    ),
    (
        "kafka.server<type=KafkaRequestHandlerPool,"
        " name=RequestHandlerAvgIdlePercent><>OneMinuteRate"
    ): (
        "kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
        {},
    ),
    "kafka.network<type=SocketServer, name=NetworkProcessorAvgIdlePercent><>Value": (
        "kafka_network_socketserver_networkprocessoravgidle_percent",
        {},
    ),
    "kafka.log<type=LogFlushStats, name=LogFlushRateAndTimeMs><>99thPercentile": (
        "kafka_log_logflushstats_logflushrateandtimems",
        {"quantile": "0.99"},
    ),
    "kafka.server<type=raft-metrics><>current-leader": (
        "kafka_server_raftmetrics_current_leader",
        {},
    ),
}

CONNECT_BEANS = {
    (
        "kafka.connect<type=connector-task-metrics,"
        " connector=kafkaval-postgres, task=0><>status: running"
    ): (
        "kafka_connect_connector_task_status",
        {"connector": "kafkaval-postgres", "task": "0", "status": "running"},
    ),
    "kafka.connect<type=connector-metrics, connector=kafkaval-postgres><>status: failed": (
        "kafka_connect_connector_status",
        {"connector": "kafkaval-postgres", "status": "failed"},
    ),
    "kafka.connect<type=source-task-metrics, connector=c, task=0><>source-record-poll-total": (
        "kafka_connect_source_task_source_record_poll_total",
        {"connector": "c", "task": "0"},
    ),
    "kafka.connect<type=connect-worker-metrics><>connector-startup-failure-total": (
        "kafka_connect_worker_connector_startup_failure_total",
        {},
    ),
    (
        "debezium.postgres<type=connector-metrics, context=streaming,"
        " server=dbserver><>MilliSecondsBehindSource"
    ): (
        "debezium_metrics_MilliSecondsBehindSource",
        {"plugin": "postgres", "name": "dbserver", "context": "streaming"},
    ),
    (
        "debezium.postgres<type=connector-metrics, context=snapshot,"
        " server=dbserver><>RemainingTableCount"
    ): (
        "debezium_metrics_RemainingTableCount",
        {"plugin": "postgres", "name": "dbserver", "context": "snapshot"},
    ),
    (
        "debezium.postgres<type=connector-metrics, server=dbserver, task=0,"
        " context=streaming><>TotalNumberOfEventsSeen"
    ): (
        "debezium_metrics_TotalNumberOfEventsSeen",
        {"plugin": "postgres", "name": "dbserver", "task": "0", "context": "streaming"},
    ),
}


@pytest.mark.parametrize("bean", sorted(BROKER_BEANS))
def test_broker_rules_name_metrics_as_strimzi_does(bean: str) -> None:
    assert _apply(_rules(jmx.BROKER_RULES), bean) == BROKER_BEANS[bean]


@pytest.mark.parametrize("bean", sorted(CONNECT_BEANS))
def test_connect_rules_name_metrics_as_strimzi_and_debezium_do(bean: str) -> None:
    assert _apply(_rules(jmx.CONNECT_RULES), bean) == CONNECT_BEANS[bean]


@pytest.mark.parametrize(
    "bean",
    [
        # Unbounded or unused shapes are not exported (cardinality).
        "kafka.network<type=RequestMetrics, name=RequestBytes, request=Produce><>99thPercentile",
        "kafka.network<type=RequestMetrics, name=RequestsPerSec,"
        " request=Produce, version=11><>Count",
        "kafka.server<type=FetcherLagMetrics, name=ConsumerLag, clientId=x,"
        " topic=t, partition=0><>Value",
        "kafka.log<type=Log, name=Size, topic=t, partition=0><>Value",
    ],
)
def test_broker_rules_drop_high_cardinality_shapes(bean: str) -> None:
    assert _apply(_rules(jmx.BROKER_RULES), bean) is None


def test_rules_files_read_only_listed_mbeans() -> None:
    for path in (jmx.BROKER_RULES, jmx.CONNECT_RULES):
        config = _rules(path)
        assert config["includeObjectNames"], f"{path.name} reads every MBean"
        assert not any(r["pattern"] in (".*", "(.*)") for r in config["rules"])


def test_agent_option_and_its_address_round_trip(tmp_path: Path) -> None:
    jar = tmp_path / "jmx_prometheus_javaagent-1.0.1.jar"
    option = jmx.agent_option(jar, 19700, jmx.BROKER_RULES)
    assert option == f"-javaagent:{jar}=127.0.0.1:19700:{jmx.BROKER_RULES}"
    argv = java_argv(
        tmp_path,
        "kafka.Kafka",
        "x.properties",
        heap="1g",
        log4j=tmp_path,
        logs_dir=tmp_path,
        jvm_options=(option,),
    )
    # A javaagent option must come before the main class to take effect.
    assert argv.index(option) < argv.index("kafka.Kafka")
    assert jmx.agent_address(argv) == "127.0.0.1:19700"
    assert jmx.agent_address(["java", "-cp", "x", "kafka.Kafka"]) is None


def test_register_and_unregister_write_file_sd_entries(tmp_path: Path) -> None:
    settings = Settings(state_dir=str(tmp_path))
    argv = ["java", "-javaagent:/j/jmx_prometheus_javaagent-1.0.1.jar=127.0.0.1:19701:/r.yml"]
    path = jmx.register(settings, jmx.BROKER_JOB, "broker-2", argv)
    assert path is not None
    assert json.loads(path.read_text()) == [
        {"targets": ["127.0.0.1:19701"], "labels": {"job": "kafka-broker", "instance": "broker-2"}}
    ]
    assert jmx.register(settings, jmx.BROKER_JOB, "broker-3", ["java"]) is None
    # Restarted without the agent: its old entry goes.
    assert jmx.register(settings, jmx.BROKER_JOB, "broker-2", ["java"]) is None
    assert not path.exists()
    path = jmx.register(settings, jmx.BROKER_JOB, "broker-2", argv)
    assert path is not None
    jmx.register(settings, jmx.CONNECT_JOB, "connect", argv)
    jmx.unregister(settings, jmx.BROKER_JOB)
    assert sorted(p.name for p in path.parent.iterdir()) == ["kafka-connect-connect.json"]


def test_broker_ports_follow_node_ids() -> None:
    settings = Settings(jmx_port=19700, brokers=3)
    assert [jmx.broker_port(settings, n) for n in (1, 2, 3)] == [19700, 19701, 19702]


def test_port_zero_turns_the_agent_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jmx, "ensure_agent_jar", lambda s: pytest.fail("fetched"))
    assert jmx.agent_jar_or_none(Settings(), 0, "the brokers") is None


def test_unobtainable_jar_is_one_warning_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(settings: Settings) -> Path:
        raise KafkavalError("Maven could not fetch Prometheus JMX exporter agent 1.0.1 jars")

    monkeypatch.setattr(jmx, "ensure_agent_jar", fail)
    assert jmx.agent_jar_or_none(Settings(), 19700, "the brokers") is None
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("warning: the brokers start without JMX metrics: Maven could not fetch")


@pytest.mark.parametrize("name", ["jmx_port", "connect_jmx_port"])
def test_jmx_ports_are_validated(name: str) -> None:
    assert getattr(load_settings(environ={f"KAFKAVAL_{name.upper()}": "0"}), name) == 0
    with pytest.raises(UsageError, match=f"{name} 70000 is not a usable TCP port"):
        load_settings(environ={f"KAFKAVAL_{name.upper()}": "70000"})
