"""Kafka brokers of the local stack: KRaft config, storage format, process spec.

Every broker runs in combined mode (broker + controller in one JVM), the way
a single-node dev setup does. With three brokers there are three controllers
too, so the metadata quorum survives one broker being down. Three brokers get
replication factor 3 for internal topics and ``min.insync.replicas=2``, so an
``acks=all`` produce stays available with one broker down and never acks a
write that only one replica holds.
"""

from __future__ import annotations

import base64
import dataclasses
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from stack import security
from stack.processes import ManagedProcess


def log4j2_console(what: str, quiet: dict[str, str]) -> str:
    """A log4j2 config: INFO to the console (the process log file), ``quiet``
    loggers (name -> level) turned down. Brokers and the Connect worker share it."""
    lines = [
        f"# {what} log: INFO to the console (the process log file).",
        "status = warn",
        "appender.console.type = Console",
        "appender.console.name = STDOUT",
        "appender.console.layout.type = PatternLayout",
        "appender.console.layout.pattern = [%d] %p %m (%c)%n",
        "rootLogger.level = info",
        "rootLogger.appenderRef.stdout.ref = STDOUT",
    ]
    for n, (logger, level) in enumerate(quiet.items()):
        lines += [f"logger.q{n}.name = {logger}", f"logger.q{n}.level = {level}"]
    return "\n".join(lines) + "\n"


LOG4J2 = log4j2_console("Broker", {"kafka.request.logger": "warn", "state.change.logger": "warn"})


@dataclasses.dataclass(frozen=True)
class Broker:
    node_id: int
    port: int
    controller_port: int
    data_dir: Path
    config_file: Path
    log_file: Path

    @property
    def name(self) -> str:
        return f"broker-{self.node_id}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def brokers_of(settings: Settings) -> list[Broker]:
    """The brokers this configuration describes (node ids 1..n)."""
    state = settings.path("state_dir")
    return [
        Broker(
            node_id=i + 1,
            port=settings.broker_port + i,
            controller_port=settings.controller_port + i,
            data_dir=state / "data" / f"broker-{i + 1}",
            config_file=state / "config" / f"broker-{i + 1}.properties",
            log_file=state / "logs" / f"broker-{i + 1}.log",
        )
        for i in range(settings.brokers)
    ]


def bootstrap_of(settings: Settings) -> str:
    return ",".join(b.address for b in brokers_of(settings))


def server_properties(
    broker: Broker, all_brokers: list[Broker], secured: security.Material | None = None
) -> str:
    """The broker's server.properties; with ``secured``, clients get SASL_SSL instead."""
    n = len(all_brokers)
    voters = ",".join(f"{b.node_id}@127.0.0.1:{b.controller_port}" for b in all_brokers)
    rf = 3 if n >= 3 else 1
    props = {
        "process.roles": "broker,controller",
        "node.id": broker.node_id,
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{broker.port},CONTROLLER://127.0.0.1:{broker.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": broker.data_dir,
        "num.partitions": 3,
        "default.replication.factor": rf,
        "min.insync.replicas": 2 if n >= 3 else 1,
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": 2 if n >= 3 else 1,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": 2 if n >= 3 else 1,
        # Consumers in tests join right away instead of waiting 3 s for peers.
        "group.initial.rebalance.delay.ms": 0,
        # Test data is disposable: keep segments small so deleted topics free disk fast.
        "log.segment.bytes": 256 * 1024 * 1024,
        "delete.topic.enable": "true",
        # A dead broker is noticed in seconds, not the 9 s default, in chaos runs.
        "broker.session.timeout.ms": 6000,
        "broker.heartbeat.interval.ms": 1000,
    }
    if secured is not None:
        props.update(security.listener_properties(broker.port, broker.controller_port, secured))
    return "".join(f"{k}={v}\n" for k, v in props.items())


def new_cluster_id(random_bytes: Callable[[], bytes] = lambda: uuid.uuid4().bytes) -> str:
    """A KRaft cluster id: a random UUID, base64url without padding (22 chars).

    Never one that starts with "-" (1 in 64 would): kafka-storage's argument
    parser takes ``-t -Xyz...`` for a missing value and the format fails,
    which is why Kafka's own ``Uuid.randomUuid`` skips those too.
    """
    while True:
        cid = base64.urlsafe_b64encode(random_bytes()).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def java_argv(
    classpath: Path,
    main: str,
    *args: str,
    heap: str,
    log4j: Path,
    logs_dir: Path,
    jvm_options: tuple[str, ...] = (),
) -> list[str]:
    return [
        "java",
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}",
        f"-Dkafka.logs.dir={logs_dir}",
        *jvm_options,
        "-cp",
        f"{classpath}/*",
        main,
        *args,
    ]


def prepare_broker(
    broker: Broker,
    all_brokers: list[Broker],
    classpath: Path,
    cluster_id: str,
    settings: Settings,
    jvm_options: tuple[str, ...] = (),
) -> ManagedProcess:
    """Write the broker's config, format its storage once, return its process spec.

    ``jvm_options`` go on the broker's java command line (the JMX exporter agent).

    Raises:
        KafkavalError: formatting the storage failed (the log is named).
    """
    state = settings.path("state_dir")
    log4j = state / "config" / "log4j2.properties"
    log4j.parent.mkdir(parents=True, exist_ok=True)
    log4j.write_text(LOG4J2)
    secured = security.material_of(state) if settings.stack_security == security.SASL_SSL else None
    broker.config_file.write_text(server_properties(broker, all_brokers, secured))
    if not (broker.data_dir / "meta.properties").exists():
        broker.data_dir.mkdir(parents=True, exist_ok=True)
        fmt = java_argv(
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(broker.config_file),
            *(security.format_arguments(secured) if secured else []),
            heap="256m",
            log4j=log4j,
            logs_dir=broker.log_file.parent,
        )
        broker.log_file.parent.mkdir(parents=True, exist_ok=True)
        with broker.log_file.open("ab") as out:
            rc = subprocess.run(fmt, stdout=out, stderr=subprocess.STDOUT).returncode
        if rc != 0:
            tail = broker.log_file.read_text(errors="replace").strip().splitlines()[-3:]
            raise KafkavalError(
                f"formatting storage of {broker.name} failed (exit {rc}); read {broker.log_file}"
                f" (last lines: {' | '.join(tail)[:400] or 'empty'})"
            )
    argv = java_argv(
        classpath,
        "kafka.Kafka",
        str(broker.config_file),
        heap=settings.broker_heap,
        log4j=log4j,
        logs_dir=broker.log_file.parent,
        jvm_options=jvm_options,
    )
    return ManagedProcess(name=broker.name, argv=argv, log=broker.log_file, pid_dir=state / "pids")
