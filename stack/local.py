"""up / down / status of the local stack.

State lives under ``settings.state_dir``: ``config/`` (generated), ``data/``
(broker logs and Prometheus TSDB), ``logs/`` (one log file per process),
``pids/`` (one JSON pid file per process, see stack.processes) and
``stack.json`` (the shape of the running stack).
"""

from __future__ import annotations

import dataclasses
import json
import signal
import socket
import sys
from pathlib import Path

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.files import write_atomic
from kafkaval.waiting import wait_until
from stack import jmx, kafka, probes, security
from stack.jars import ensure_kafka_jars, require_java
from stack.processes import ManagedProcess, load_managed
from stack.prometheus import prepare_prometheus

BROKER_START_TIMEOUT = 90.0
BROKER_RESTART_TIMEOUT = 180.0
PROMETHEUS_START_TIMEOUT = 30.0
EXPORTER_START_TIMEOUT = 30.0
# The stack's process exporter serves on metrics_port + 17 (19417 by default,
# the port the Docker exporter of the compose stack uses too).
EXPORTER_PORT_OFFSET = 17


@dataclasses.dataclass
class StackInfo:
    bootstrap_servers: str
    prometheus_url: str
    brokers: int
    state_dir: Path
    processes: list[ManagedProcess]
    already_running: bool = False
    security: str = security.NONE

    def describe(self) -> str:
        lines = [
            f"Kafka bootstrap : {self.bootstrap_servers}  ({self.brokers} broker(s), KRaft)",
            f"Prometheus      : {self.prometheus_url}",
            f"state and logs  : {self.state_dir}/logs/",
        ]
        if self.security == security.SASL_SSL:
            material = security.material_of(self.state_dir)
            lines += [
                f"security        : SASL_SSL, {security.MECHANISM} user {security.USER}, "
                f"CA {material.ca}",
                f"client settings : kafkaval ... --config {material.client_toml}"
                " (password by @file: reference)",
            ]
        lines += [f"  {p.name:<12} pid {p.pid:<8} log {p.log}" for p in self.processes]
        return "\n".join(lines)


def _pid_dir(settings: Settings) -> Path:
    return settings.path("state_dir") / "pids"


def _shape_file(settings: Settings) -> Path:
    return settings.path("state_dir") / "stack.json"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _check_ports(settings: Settings) -> None:
    wanted = [(b.name, b.port) for b in kafka.brokers_of(settings)]
    wanted += [(f"{b.name} controller", b.controller_port) for b in kafka.brokers_of(settings)]
    if settings.stack_security == security.SASL_SSL:
        wanted += [
            (f"{b.name} internal", security.internal_port(b.controller_port))
            for b in kafka.brokers_of(settings)
        ]
    wanted.append(("prometheus", settings.prometheus_port))
    wanted.append(("exporter", exporter_port(settings)))
    if settings.jmx_port:
        wanted += [
            (f"{b.name} JMX exporter", jmx.broker_port(settings, b.node_id))
            for b in kafka.brokers_of(settings)
        ]
    for what, port in wanted:
        if not _port_free(port):
            raise KafkavalError(
                f"port {port} on 127.0.0.1 (for {what}) is already in use: stop what holds it "
                f"(ss -ltnp 'sport = :{port}') or choose other ports (broker_port, "
                "controller_port, prometheus_port, metrics_port, jmx_port)"
            )


def exporter_port(settings: Settings) -> int:
    return settings.metrics_port + EXPORTER_PORT_OFFSET


def prepare_exporter(settings: Settings) -> ManagedProcess:
    """The process-stats exporter (``kafkaval exporter --local-stack``) of this stack.

    It reports CPU, memory and disk of every process with a pid file here
    (brokers, Prometheus, Connect, PostgreSQL) under the cAdvisor names, so the
    reports' resource sections and the Resources dashboard work without Docker,
    and the consumer-group lag of the groups in use on the stack's brokers.
    """
    state = settings.path("state_dir")
    argv = [sys.executable, "-m", "kafkaval", "exporter", "--local-stack"]
    argv += ["--state-dir", str(state), "--port", str(exporter_port(settings))]
    # Consumer-group lag of this stack's Kafka (exporter/lag.py) from the same endpoint.
    argv += ["--consumer-lag", "--bootstrap-servers", settings.bootstrap_servers]
    return ManagedProcess(
        name="exporter", argv=argv, log=state / "logs" / "exporter.log", pid_dir=state / "pids"
    )


def _core_names(settings: Settings) -> set[str]:
    """The processes a running stack has (CDC processes come and go on their own)."""
    return {b.name for b in kafka.brokers_of(settings)} | {"prometheus", "exporter"}


def is_local_kafka(settings: Settings) -> bool:
    """True when the configured bootstrap servers are this stack's brokers."""
    return settings.bootstrap_servers == kafka.bootstrap_of(settings)


def local_settings(settings: Settings) -> Settings:
    """The settings with bootstrap servers and Prometheus URL pointing at this stack,
    and, for a SASL_SSL stack, its client security properties.

    Raises:
        KafkavalError: a SASL_SSL stack whose security material was never made.
    """
    kafka_props = settings.kafka
    if settings.stack_security == security.SASL_SSL:
        material = security.material_of(settings.path("state_dir"))
        kafka_props = {**settings.kafka, **security.client_props(material)}
    return dataclasses.replace(
        settings,
        bootstrap_servers=kafka.bootstrap_of(settings),
        prometheus_url=f"http://127.0.0.1:{settings.prometheus_port}",
        kafka=kafka_props,
    )


def running(settings: Settings) -> list[ManagedProcess]:
    return [p for p in load_managed(_pid_dir(settings)) if p.is_running()]


def _cluster_id(settings: Settings) -> str:
    path = settings.path("state_dir") / "cluster-id"
    if path.exists():
        return path.read_text().strip()
    cid = kafka.new_cluster_id()
    write_atomic(path, cid + "\n")
    return cid


def _refuse_other_shape(settings: Settings) -> None:
    """Refuse to start on data of a stack with another broker count.

    One broker started on the data of three would find its health topic
    needing two in-sync replicas and never serve.

    Raises:
        UsageError: the state dir holds another shape's data.
    """
    shape_file = _shape_file(settings)
    try:
        was = json.loads(shape_file.read_text()).get("brokers")
    except (OSError, json.JSONDecodeError):
        return  # no (readable) shape: a fresh state dir
    data = settings.path("state_dir") / "data"
    if was != settings.brokers and any(data.glob("broker-*/meta.properties")):
        raise UsageError(
            f"{settings.path('state_dir')} holds the data of a {was}-broker stack, not "
            f"{settings.brokers}: run `kafkaval stack down --wipe` first (deletes that data) "
            "or use another state_dir"
        )


def up(settings: Settings) -> StackInfo:
    """Start brokers and Prometheus (if not running) and wait until they serve.

    Raises:
        KafkavalError: a tool is missing, a port is taken, a process exits or
            does not become ready (the error names the broker and why);
            nothing this call started is left running.
        UsageError: the state dir holds the data of another broker count.
    """
    state = settings.path("state_dir")
    alive = running(settings)
    shape = json.loads(_shape_file(settings).read_text()) if _shape_file(settings).exists() else {}
    if alive and shape.get("brokers") != settings.brokers:
        raise KafkavalError(
            f"a stack with {shape.get('brokers', '?')} broker(s) is already running in "
            f"{state}: run `kafkaval stack down` first or use another state_dir"
        )
    if not alive:
        _refuse_other_shape(settings)
    made_with = shape.get("security", security.NONE)
    formatted = any((b.data_dir / "meta.properties").exists() for b in kafka.brokers_of(settings))
    if (alive or formatted) and made_with != settings.stack_security:
        # The SCRAM user is written when the storage is formatted: a stack
        # made without it cannot be secured later, nor the other way round.
        raise KafkavalError(
            f"the stack in {state} was made with security {made_with}, not "
            f"{settings.stack_security}: run `kafkaval stack down --wipe` first, "
            "or use another state_dir"
        )
    if settings.stack_security == security.SASL_SSL:
        security.ensure_material(security.material_of(state))
    local = local_settings(settings)
    if settings.stack_security == security.SASL_SSL:
        # The stack's shape too, so `--config client.toml` alone finds this
        # stack (CDC's Connect worker, chaos' local targets), wherever it lives.
        security.write_client_toml(
            security.material_of(state),
            {
                "bootstrap_servers": local.bootstrap_servers,
                "prometheus_url": local.prometheus_url,
                "stack_security": settings.stack_security,
                "state_dir": str(state),
                "brokers": settings.brokers,
                "broker_port": settings.broker_port,
                "controller_port": settings.controller_port,
                "prometheus_port": settings.prometheus_port,
            },
        )
    # Forget stale pid files (processes that died or were never ours).
    for proc in load_managed(_pid_dir(settings)):
        if not proc.is_running():
            proc.pid_file.unlink(missing_ok=True)
    if alive and _core_names(settings) <= {p.name for p in alive}:
        _register_broker_agents(local, alive)
        _wait_ready(local, alive)
        return StackInfo(
            local.bootstrap_servers,
            local.prometheus_url,
            settings.brokers,
            state,
            alive,
            True,
            settings.stack_security,
        )
    if alive:  # partly running (e.g. a broker killed): restart the missing ones
        names = {p.name for p in alive}
    else:
        names = set()
        _check_ports(settings)
    require_java()
    classpath = ensure_kafka_jars(settings)
    cluster_id = _cluster_id(settings)
    brokers = kafka.brokers_of(settings)
    agent = jmx.agent_jar_or_none(settings, settings.jmx_port, "the brokers")
    procs = [
        kafka.prepare_broker(
            b, brokers, classpath, cluster_id, settings, _broker_agent(local, b, agent)
        )
        for b in brokers
    ]
    procs.append(prepare_prometheus(local))
    procs.append(prepare_exporter(local))
    write_atomic(
        _shape_file(settings),
        json.dumps({"brokers": settings.brokers, "security": settings.stack_security}),
    )
    started: list[ManagedProcess] = []
    try:
        for proc in procs:
            if proc.name not in names:
                proc.start()
                started.append(proc)
        # Every process with a pid file, also one that already exited: a broker
        # that dies at once must be reported as such, not waited for.
        final = load_managed(_pid_dir(settings))
        _register_broker_agents(local, final)
        # Brokers restarted next to survivors wait out leader election and catch-up.
        _wait_ready(local, final, BROKER_RESTART_TIMEOUT if names else BROKER_START_TIMEOUT)
    except BaseException:
        for proc in started:
            proc.stop(timeout=10)
        raise
    return StackInfo(
        local.bootstrap_servers,
        local.prometheus_url,
        settings.brokers,
        state,
        final,
        security=settings.stack_security,
    )


def _broker_agent(settings: Settings, broker: kafka.Broker, jar: Path | None) -> tuple[str, ...]:
    """The JVM option attaching the JMX exporter to ``broker`` (none without a jar)."""
    if jar is None:
        return ()
    port = jmx.broker_port(settings, broker.node_id)
    return (jmx.agent_option(jar, port, jmx.BROKER_RULES),)


def _register_broker_agents(settings: Settings, procs: list[ManagedProcess]) -> None:
    """A file_sd entry for each broker started with the agent (its argv says so)."""
    names = {b.name for b in kafka.brokers_of(settings)}
    for proc in procs:
        if proc.name in names:
            jmx.register(settings, jmx.BROKER_JOB, proc.name, proc.argv)


def _not_ready(local: Settings) -> str:
    """Which brokers are not ready and why, for the one-line error."""
    client = local.client_config()
    reasons = []
    for b in kafka.brokers_of(local):
        why = probes.broker_not_ready(client, b.node_id, b.port)
        if why:
            reasons.append(f"{b.name} {why}")
    return "; ".join(reasons) or "every broker is registered and in sync, yet acks=all failed"


def _wait_ready(
    local: Settings, procs: list[ManagedProcess], timeout: float = BROKER_START_TIMEOUT
) -> None:
    def check_alive() -> None:
        for proc in procs:
            if not proc.is_running():
                raise KafkavalError(
                    f"{proc.name} exited during startup; read {proc.log}"
                    f" (last line: {proc.log_tail(1).strip()[:200] or 'empty'})"
                )

    replication = 3 if local.brokers >= 3 else 1
    client = local.client_config()
    if not wait_until(
        lambda: probes.broker_serving(client, replication), timeout, 0.5, check_alive
    ):
        raise KafkavalError(
            f"Kafka at {local.bootstrap_servers} did not serve within {timeout:.0f} s: "
            f"{_not_ready(local)}; read {local.path('state_dir') / 'logs'}/broker-*.log"
        )
    if not wait_until(
        lambda: probes.prometheus_ready(local.prometheus_url),
        PROMETHEUS_START_TIMEOUT,
        0.3,
        check_alive,
    ):
        raise KafkavalError(
            f"Prometheus at {local.prometheus_url} not ready within "
            f"{PROMETHEUS_START_TIMEOUT:.0f} s; read {local.path('state_dir')}/logs/prometheus.log"
        )
    port = exporter_port(local)
    if not wait_until(lambda: probes.port_open(port), EXPORTER_START_TIMEOUT, 0.2, check_alive):
        raise KafkavalError(
            f"the process exporter did not listen on 127.0.0.1:{port} within "
            f"{EXPORTER_START_TIMEOUT:.0f} s; read {local.path('state_dir')}/logs/exporter.log"
        )


def down(settings: Settings, wipe: bool = False) -> list[str]:
    """Stop every process the stack started (and only those); return their names.

    With ``wipe`` the data directories are deleted too.
    """
    procs = load_managed(_pid_dir(settings))
    stopped = [p.name for p in procs if p.is_running()]
    brokers = [p for p in procs if p.name.startswith("broker")]
    prometheus = [p for p in procs if p.name == "prometheus"]
    others = [p for p in procs if p not in brokers and p not in prometheus]
    # 1. The CDC processes (connect, postgres) and the rest: Connect flushes
    #    its offsets to the brokers, so they go first.
    for proc in others:
        proc.stop()
    jmx.unregister(settings, jmx.CONNECT_JOB)
    # 2. All brokers get SIGTERM together: stopped one by one, the last ones
    #    would wait out their controlled shutdown (30 s) once the KRaft quorum
    #    is gone.
    for broker in brokers:
        if broker.is_running():
            broker.signal(signal.SIGTERM)
    for broker in brokers:
        broker.stop()
    jmx.unregister(settings, jmx.BROKER_JOB)
    # 3. Prometheus last, so it can still scrape while the brokers shut down.
    for proc in prometheus:
        proc.stop()
    if wipe:
        import shutil

        shutil.rmtree(settings.path("state_dir"), ignore_errors=True)
    return stopped


def status(settings: Settings) -> list[tuple[str, str, int | None, Path]]:
    """(name, 'running'|'stopped', pid, log) for each process with a pid file."""
    return [
        (p.name, "running" if p.is_running() else "stopped", p.pid, p.log)
        for p in load_managed(_pid_dir(settings))
    ]
