"""Up and down of the CDC part on top of a running Kafka.

``up``: PostgreSQL (initdb once, start, schema), the Connect worker, the
Debezium connector registered and RUNNING. ``down``: connector deleted, its
replication slot dropped, worker and PostgreSQL stopped. Both processes have
pid files in the stack's pid folder, so ``kafkaval stack down`` stops them too.
In attach mode (``connect_url`` set) nothing is started or stopped: only the
connector is registered or deleted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from cdc import connect, postgres
from cdc.config import CdcConfig
from cdc.debezium_jars import CONNECTOR_PLUGIN_CLASS, ensure_debezium_plugin
from cdc.errors import CdcError
from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.kafka_client import check_clients
from kafkaval.waiting import wait_until
from stack import jmx, probes
from stack.jars import ensure_kafka_jars, require_java
from stack.processes import ManagedProcess, load_managed

POSTGRES_START_TIMEOUT = 60.0
CONNECT_START_TIMEOUT = 120.0
CONNECTOR_START_TIMEOUT = 90.0


@dataclasses.dataclass
class CdcInfo:
    """What ``up`` brought up, for the summary line."""

    pg: str
    connect_url: str
    connector: str
    topics: list[str]
    started: list[str]
    notes: list[str]

    def describe(self) -> str:
        lines = [
            f"PostgreSQL      : {self.pg}",
            f"Kafka Connect   : {self.connect_url}",
            f"connector       : {self.connector} (RUNNING)",
            f"topics          : {', '.join(self.topics)}",
        ]
        if self.started:
            lines.append(f"started         : {', '.join(self.started)}")
        lines += [f"note            : {n}" for n in self.notes]
        return "\n".join(lines)


def _pid_dir(settings: Settings) -> Path:
    return settings.path("state_dir") / "pids"


def managed(settings: Settings, name: str) -> ManagedProcess | None:
    """The running managed process ``name`` of this stack, if any."""
    for proc in load_managed(_pid_dir(settings)):
        if proc.name == name and proc.is_running():
            return proc
    return None


def require_kafka(settings: Settings) -> None:
    """Raises CdcError unless Kafka answers at ``settings.bootstrap_servers``."""
    try:
        check_clients(settings)
    except KafkavalError as e:
        raise CdcError(str(e)) from e


def start_postgres(settings: Settings, cfg: CdcConfig) -> ManagedProcess | None:
    """Start PostgreSQL if it is not running; return the process if we started it.

    Raises:
        CdcError: initdb or start failed, or not ready in time.
    """
    if managed(settings, postgres.PROCESS_NAME):
        postgres.ensure_database(cfg)
        return None
    postgres.initdb(settings, cfg)
    proc = postgres.process_spec(settings, cfg)
    proc.start()
    try:
        _wait(lambda: postgres.is_ready(cfg), proc, POSTGRES_START_TIMEOUT, "PostgreSQL")
        postgres.ensure_database(cfg)
    except BaseException:
        proc.stop(timeout=10)
        raise
    return proc


def start_connect(settings: Settings, cfg: CdcConfig) -> ManagedProcess | None:
    """Start the Connect worker if it is not running; return it if we started it.

    Raises:
        CdcError: jars missing, worker exited, or REST not serving the plugin in time.
    """
    client = connect.ConnectClient(cfg.rest_url)
    proc = managed(settings, connect.PROCESS_NAME)
    if proc is None:
        require_java()
        agent = jmx.agent_jar_or_none(settings, settings.connect_jmx_port, "the Connect worker")
        if agent and probes.port_open(settings.connect_jmx_port):
            raise CdcError(
                f"port {settings.connect_jmx_port} on 127.0.0.1 (for the Connect worker's JMX "
                "exporter) is already in use: stop what holds it "
                f"(ss -ltnp 'sport = :{settings.connect_jmx_port}') or set connect_jmx_port"
            )
        spec = connect.process_spec(
            settings, cfg, ensure_kafka_jars(settings), ensure_debezium_plugin(settings), agent
        )
        spec.start()
        proc = spec
        started = True
    else:
        started = False
    jmx.register(settings, jmx.CONNECT_JOB, connect.PROCESS_NAME, proc.argv)
    try:
        _wait(client.reachable, proc, CONNECT_START_TIMEOUT, "Kafka Connect REST")
        if CONNECTOR_PLUGIN_CLASS not in client.plugins():
            raise CdcError(
                f"Kafka Connect at {client.url} has no {CONNECTOR_PLUGIN_CLASS} plugin; "
                f"read {proc.log}"
            )
    except BaseException:
        if started:
            proc.stop(timeout=15)
            jmx.unregister(settings, jmx.CONNECT_JOB)
        raise
    return proc if started else None


def _wait(condition: Callable[[], bool], proc: ManagedProcess, timeout: float, what: str) -> None:
    def alive() -> None:
        if not proc.is_running():
            raise CdcError(f"{proc.name} exited during startup; read {proc.log}: {_last(proc)}")

    if not wait_until(condition, timeout, 0.5, alive):
        raise CdcError(f"{what} not ready within {timeout:.0f} s; read {proc.log}")


def _last(proc: ManagedProcess) -> str:
    lines = [line for line in proc.log_tail(30).splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "FATAL" in line]
    return (errors or lines or ["(empty log)"])[-1].strip()


def register_connector(
    cfg: CdcConfig, snapshot_mode: str = "initial", timeout: float = CONNECTOR_START_TIMEOUT
) -> list[str]:
    """Register the connector (if missing) and wait until its task RUNS; return notes.

    A replication slot left by an earlier run without its connector is dropped
    (and noted): resuming from it would replay changes no ledger knows.

    Raises:
        CdcError: the config is invalid, the slot is held by someone else, or
            the task FAILED (with its trace) or did not start in time. A
            connector that failed to start is deleted again.
    """
    client = connect.ConnectClient(cfg.rest_url)
    notes: list[str] = []
    if not client.exists(cfg.connector_name):
        if postgres.drop_slot(cfg):
            notes.append(f"dropped replication slot {cfg.slot_name} left by an earlier run")
        config = connect.connector_config(cfg, snapshot_mode)
        errors = client.validate({**config, "name": cfg.connector_name})
        if errors:
            raise CdcError(f"connector config rejected: {'; '.join(errors)}")
        client.put_config(cfg.connector_name, config)
        try:
            connect.wait_running(client, cfg.connector_name, timeout)
        except CdcError:
            client.delete(cfg.connector_name)  # nothing left half-configured
            raise
    else:
        connect.wait_running(client, cfg.connector_name, timeout)
    return notes


def unregister_connector(cfg: CdcConfig, drop_slot: bool = True) -> list[str]:
    """Delete the connector and (by default) its slot and publication; return what went."""
    client = connect.ConnectClient(cfg.rest_url)
    gone = []
    if client.exists(cfg.connector_name):
        # Stop first, so the offsets can be reset: a later registration under
        # the same name then snapshots afresh instead of resuming a dropped slot.
        client.stop(cfg.connector_name)
        connect.wait_stopped(client, cfg.connector_name)
        client.delete_offsets(cfg.connector_name)
        client.delete(cfg.connector_name)
        gone.append(f"connector {cfg.connector_name}")
    if drop_slot:
        if wait_until(lambda: not postgres.slot_state(cfg)[1], 30.0, 0.5):
            if postgres.drop_slot(cfg):
                gone.append(f"slot {cfg.slot_name}")
        postgres.drop_publication(cfg)
    return gone


def up(settings: Settings, cfg: CdcConfig, snapshot_mode: str = "initial") -> CdcInfo:
    """Bring the CDC pipeline up on top of the running Kafka.

    Raises:
        CdcError: Kafka unreachable, a process or the connector failed; what
            this call started is stopped again.
    """
    require_kafka(settings)
    started: list[ManagedProcess] = []
    try:
        if not cfg.attach:
            for start in (start_postgres, start_connect):
                proc = start(settings, cfg)
                if proc:
                    started.append(proc)
        else:
            postgres.ensure_database(cfg)
            if not connect.ConnectClient(cfg.rest_url).reachable():
                raise CdcError(f"Kafka Connect at {cfg.rest_url} is not reachable: fix connect_url")
        notes = register_connector(cfg, snapshot_mode)
    except BaseException:
        for proc in reversed(started):
            proc.stop(timeout=15)
        raise
    return CdcInfo(
        pg=f"{cfg.pg_host}:{cfg.pg_port}/{cfg.pg_database} (user {cfg.pg_user})",
        connect_url=cfg.rest_url,
        connector=cfg.connector_name,
        topics=cfg.topics,
        started=[p.name for p in started],
        notes=notes,
    )


def down(settings: Settings, cfg: CdcConfig) -> list[str]:
    """Delete the connector and its slot, stop Connect and PostgreSQL; return what went.

    Best effort per step: an unreachable Connect or PostgreSQL does not keep
    the processes we started from being stopped.
    """
    gone: list[str] = []
    problems: list[str] = []
    connect_proc = managed(settings, connect.PROCESS_NAME)
    pg_proc = managed(settings, postgres.PROCESS_NAME)
    if cfg.attach or (connect_proc and pg_proc):
        try:
            gone += unregister_connector(cfg)
        except CdcError as e:
            problems.append(str(e))
    if not cfg.attach:
        # Connect before PostgreSQL, so its last offset commit can still reach Kafka
        # and its walsender ends cleanly.
        for name in (connect.PROCESS_NAME, postgres.PROCESS_NAME):
            for proc in load_managed(_pid_dir(settings)):
                if proc.name == name:
                    if proc.is_running():
                        gone.append(name)
                    proc.stop(timeout=30)
        jmx.unregister(settings, jmx.CONNECT_JOB)
    if problems and not gone:
        raise CdcError(problems[0])
    return gone
