"""The Kafka Connect distributed worker and a client for its REST API.

The worker runs ``ConnectDistributed`` from the Kafka classpath in the cache
with the Debezium plugin folder on ``plugin.path``; it keeps its configs,
offsets and status in Kafka topics and serves REST on 127.0.0.1 only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from cdc.config import CdcConfig
from cdc.debezium_jars import CONNECTOR_PLUGIN_CLASS
from cdc.errors import CdcError
from kafkaval.config import Settings
from kafkaval.waiting import wait_until
from stack import jmx, security
from stack.kafka import java_argv, log4j2_console
from stack.processes import ManagedProcess

PROCESS_NAME = "connect"
CONNECTOR_CLASS = CONNECTOR_PLUGIN_CLASS

LOG4J2 = log4j2_console("Connect worker", {"org.reflections": "error"})


def worker_properties(settings: Settings, cfg: CdcConfig, plugin_path: Path) -> str:
    """The distributed worker's configuration file text.

    Raises:
        CdcError: the Kafka is secured but is not the local SASL_SSL stack (the
            worker's Java clients get only that stack's settings).
    """
    rf = 3 if settings.brokers >= 3 else 1
    group = cfg.connect_group_id
    props: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": group,
        "config.storage.topic": f"{group}-configs",
        "offset.storage.topic": f"{group}-offsets",
        "status.storage.topic": f"{group}-status",
        "config.storage.replication.factor": rf,
        "offset.storage.replication.factor": rf,
        "status.storage.replication.factor": rf,
        # Payload-only JSON: the Debezium envelope (before/after/source/op/ts_ms)
        # is unchanged, the per-message schema copy (5x the size) is dropped.
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
        # The crash bound of connector-restart is stated from this value.
        "offset.flush.interval.ms": cfg.offset_flush_interval_ms,
        "listeners": f"http://127.0.0.1:{cfg.connect_port}",
        "rest.advertised.host.name": "127.0.0.1",
        "rest.advertised.port": cfg.connect_port,
        "plugin.path": str(plugin_path),
        # Debezium ships ServiceLoader manifests: no slow classpath scan.
        "plugin.discovery": "service_load",
        # One worker: after a crash there is no peer to wait for, so tasks of
        # the restarted worker are reassigned at once instead of after 5 min.
        "scheduled.rebalance.max.delay.ms": 0,
        # The source producer must not lose or reorder change events.
        "producer.acks": "all",
        "producer.enable.idempotence": "true",
    }
    props.update(_security_properties(settings))
    return "".join(f"{k}={v}\n" for k, v in props.items())


def _security_properties(settings: Settings) -> dict[str, str]:
    """The worker's own clients and its producers, consumers and admin: the same security."""
    protocol = settings.kafka.get("security.protocol", "plaintext").upper()
    if settings.stack_security == security.SASL_SSL:
        java = security.java_client_properties(security.material_of(settings.path("state_dir")))
    elif protocol == "PLAINTEXT":
        return {}
    else:
        raise CdcError(
            f"the local Connect worker cannot reach a {protocol} Kafka other than the local "
            "SASL_SSL stack (librdkafka settings do not translate to Java ones); run your own "
            "Connect/Debezium and attach with connect_url"
        )
    props = dict(security.JAVA_CONFIG_PROVIDERS)
    for prefix in ("", "producer.", "consumer.", "admin."):
        props.update({prefix + k: v for k, v in java.items()})
    return props


def process_spec(
    settings: Settings,
    cfg: CdcConfig,
    kafka_classpath: Path,
    plugin_path: Path,
    agent_jar: Path | None = None,
) -> ManagedProcess:
    """Write the worker's config and return its process spec (pid file ``connect.json``).

    With ``agent_jar`` the JMX exporter serves the worker's and Debezium's
    MBeans on 127.0.0.1:``settings.connect_jmx_port``.
    """
    state = settings.path("state_dir")
    config_dir = state / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    props = config_dir / "connect-distributed.properties"
    props.write_text(worker_properties(settings, cfg, plugin_path))
    log4j = config_dir / "connect-log4j2.properties"
    log4j.write_text(LOG4J2)
    argv = java_argv(
        kafka_classpath,
        "org.apache.kafka.connect.cli.ConnectDistributed",
        str(props),
        heap=cfg.connect_heap,
        log4j=log4j,
        logs_dir=state / "logs",
        jvm_options=(
            (jmx.agent_option(agent_jar, settings.connect_jmx_port, jmx.CONNECT_RULES),)
            if agent_jar
            else ()
        ),
    )
    return ManagedProcess(
        name=PROCESS_NAME, argv=argv, log=state / "logs" / "connect.log", pid_dir=state / "pids"
    )


def connector_config(cfg: CdcConfig, snapshot_mode: str = "initial") -> dict[str, str]:
    """The Debezium PostgreSQL connector's configuration (envelope kept, no unwrap)."""
    return {
        "connector.class": CONNECTOR_CLASS,
        "tasks.max": "1",
        "database.hostname": cfg.connector_db[0],
        "database.port": str(cfg.connector_db[1]),
        "database.user": cfg.pg_user,
        "database.password": cfg.pg_password,
        "database.dbname": cfg.pg_database,
        "topic.prefix": cfg.topic_prefix,
        "plugin.name": "pgoutput",
        "slot.name": cfg.slot_name,
        "publication.name": cfg.publication_name,
        "publication.autocreate.mode": "filtered",
        "table.include.list": ",".join(f"public.{t}" for t in ("videos", "users", "comments")),
        "snapshot.mode": snapshot_mode,
        # Topics made by Connect with the broker's defaults (partitions, replication).
        "topic.creation.default.replication.factor": "-1",
        "topic.creation.default.partitions": "-1",
        # A failed connection surfaces as a FAILED task quickly, not after minutes.
        "errors.max.retries": "3",
    }


class ConnectClient:
    """The Connect REST API, each failure turned into a one-line CdcError.

    Args:
        url: the worker's base URL (``http://127.0.0.1:19083``).
        session: a requests session (tests inject one).
        timeout: seconds per request.
    """

    def __init__(
        self, url: str, session: requests.Session | None = None, timeout: float = 10.0
    ) -> None:
        self.url = url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        except requests.ConnectionError as e:
            raise CdcError(
                f"Kafka Connect at {self.url} is not reachable: start it with `kafkaval cdc up` "
                "or fix connect_url"
            ) from e
        except requests.RequestException as e:
            raise CdcError(f"Kafka Connect at {self.url} did not answer {path}: {e}") from e

    def _json(self, resp: requests.Response, what: str) -> Any:
        if resp.status_code >= 400:
            try:
                message = resp.json().get("message", resp.text)
            except ValueError:
                message = resp.text
            first = str(message).strip().splitlines()[0] if str(message).strip() else ""
            raise CdcError(f"Kafka Connect refused to {what} (HTTP {resp.status_code}): {first}")
        if resp.status_code == 204 or not resp.content:
            return None
        return resp.json()

    def reachable(self) -> bool:
        try:
            return self.session.get(self.url + "/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def plugins(self) -> list[str]:
        return [p["class"] for p in self._json(self._call("GET", "/connector-plugins"), "list")]

    def connectors(self) -> list[str]:
        return list(self._json(self._call("GET", "/connectors"), "list connectors"))

    def exists(self, name: str) -> bool:
        return self._call("GET", f"/connectors/{name}").status_code == 200

    def put_config(self, name: str, config: dict[str, str]) -> None:
        """Create or update connector ``name``."""
        self._json(self._call("PUT", f"/connectors/{name}/config", json=config), f"register {name}")

    def validate(self, config: dict[str, str]) -> list[str]:
        """Errors Connect's own validation reports for ``config`` (empty: valid)."""
        cls = config["connector.class"].rsplit(".", 1)[-1]
        body = self._json(
            self._call("PUT", f"/connector-plugins/{cls}/config/validate", json=config),
            "validate the connector config",
        )
        errors = []
        for item in body.get("configs", []):
            value = item.get("value") or {}
            for err in value.get("errors") or []:
                errors.append(f"{value.get('name')}: {err}")
        return errors

    def delete(self, name: str) -> bool:
        """Delete connector ``name``; False if it did not exist."""
        resp = self._call("DELETE", f"/connectors/{name}")
        if resp.status_code == 404:
            return False
        self._json(resp, f"delete {name}")
        return True

    def restart(self, name: str) -> None:
        """Graceful restart of the connector and its tasks (offsets committed on stop)."""
        self._json(
            self._call("POST", f"/connectors/{name}/restart?includeTasks=true&onlyFailed=false"),
            f"restart {name}",
        )

    def stop(self, name: str) -> None:
        """Stop the connector (tasks shut down, offsets kept) until ``resume``."""
        self._json(self._call("PUT", f"/connectors/{name}/stop"), f"stop {name}")

    def resume(self, name: str) -> None:
        self._json(self._call("PUT", f"/connectors/{name}/resume"), f"resume {name}")

    def offsets(self, name: str) -> list[dict[str, Any]]:
        body = self._json(
            self._call("GET", f"/connectors/{name}/offsets"), f"read offsets of {name}"
        )
        return list(body.get("offsets", []))

    def delete_offsets(self, name: str) -> None:
        """Forget the connector's stored source offsets (it must be stopped)."""
        self._json(self._call("DELETE", f"/connectors/{name}/offsets"), f"reset offsets of {name}")

    def status(self, name: str) -> dict[str, Any]:
        resp = self._call("GET", f"/connectors/{name}/status")
        if resp.status_code == 404:
            raise CdcError(f"no connector {name!r} in Kafka Connect at {self.url}: register it")
        return dict(self._json(resp, f"read status of {name}"))


def failure_of(status: dict[str, Any]) -> str | None:
    """One line describing a FAILED connector or task from its status, else None."""
    parts = [("connector", status.get("connector", {}))]
    parts += [(f"task {t.get('id')}", t) for t in status.get("tasks", [])]
    for what, part in parts:
        if part.get("state") == "FAILED":
            trace = str(part.get("trace", "")).strip().splitlines()
            head = trace[0] if trace else "no trace"
            causes = [line for line in trace if line.startswith("Caused by:")]
            cause = f" | {causes[-1]}" if causes else ""
            return f"{what} FAILED: {head}{cause}"
    return None


def wait_running(
    client: ConnectClient,
    name: str,
    timeout: float,
    check: Callable[[], None] = lambda: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> dict[str, Any]:
    """Wait until the connector and its task are RUNNING; return the status.

    Args:
        client: the worker's REST API.
        name: the connector.
        timeout: seconds, measured on ``clock``.
        check: called between polls; may raise to give up early (see `wait_until`).
        clock: monotonic seconds; ``sleep``: sleeps between polls (both injectable for tests).

    Raises:
        CdcError: a task FAILED (with the first line and root cause of its
            trace), or not running within ``timeout`` s.
    """
    status: dict[str, Any] = {}

    def running() -> bool:
        nonlocal status
        try:
            status = client.status(name)
        except CdcError:
            status = {}
        failure = failure_of(status)
        if failure:
            raise CdcError(
                f"connector {name} {failure} "
                f"(full trace: GET {client.url}/connectors/{name}/status)"
            )
        tasks = status.get("tasks", [])
        return (
            status.get("connector", {}).get("state") == "RUNNING"
            and bool(tasks)
            and all(t.get("state") == "RUNNING" for t in tasks)
        )

    if wait_until(running, timeout, 0.5, check, clock, sleep):
        return status
    states = [status.get("connector", {}).get("state")] + [
        t.get("state") for t in status.get("tasks", [])
    ]
    raise CdcError(
        f"connector {name} not RUNNING within {timeout:.0f} s (states {states}); "
        f"read the Connect log"
    )


def wait_stopped(
    client: ConnectClient,
    name: str,
    timeout: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> None:
    """Wait until the connector reports STOPPED (after ``client.stop``).

    Args:
        client: the worker's REST API.
        name: the connector.
        timeout: seconds, measured on ``clock``.
        clock: monotonic seconds; ``sleep``: sleeps between polls (both injectable for tests).

    Raises:
        CdcError: its status cannot be read, or it is not STOPPED within ``timeout`` s.
    """

    def stopped() -> bool:
        return client.status(name).get("connector", {}).get("state") == "STOPPED"

    if not wait_until(stopped, timeout, 0.3, clock=clock, sleep=sleep):
        raise CdcError(f"connector {name} did not stop within {timeout:.0f} s")
