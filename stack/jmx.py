"""The Prometheus JMX exporter Java agent on brokers and the Connect worker.

The agent jar comes from Maven Central like the Kafka jars (``stack/jmx-pom.xml``,
cached under ``<cache_dir>/jmx-exporter-<version>/``). Each JVM gets
``-javaagent:<jar>=127.0.0.1:<port>:<rules>`` with a rules file from
``prometheus/jmx/``, and its endpoint is registered for the local Prometheus
with file_sd (kafkaval.targets) while the stack runs it. A ``jmx_port`` of 0
starts the JVMs without the agent (to measure its overhead); so does a jar that
cannot be fetched, with one warning line: the stack still runs, only the
broker-side series are missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.targets import register_target, targets_dir
from stack.jars import fetch_maven_classpath

REPO = Path(__file__).resolve().parent.parent
POM = Path(__file__).with_name("jmx-pom.xml")
JMX_EXPORTER_VERSION = "1.0.1"
RULES_DIR = REPO / "prometheus" / "jmx"
BROKER_RULES = RULES_DIR / "kafka-broker.yml"
CONNECT_RULES = RULES_DIR / "kafka-connect.yml"
# The scrape jobs of the agents' endpoints (file_sd labels and compose job names).
BROKER_JOB = "kafka-broker"
CONNECT_JOB = "kafka-connect"


def agent_dir(settings: Settings, version: str = JMX_EXPORTER_VERSION) -> Path:
    return settings.path("cache_dir") / f"jmx-exporter-{version}"


def ensure_agent_jar(
    settings: Settings, version: str = JMX_EXPORTER_VERSION, pom: Path = POM
) -> Path:
    """The agent jar, downloading it once.

    Raises:
        KafkavalError: Maven is missing or the download failed (its log is named).
    """
    folder = fetch_maven_classpath(
        pom,
        agent_dir(settings, version),
        f"Prometheus JMX exporter agent {version}",
        # The agent is one shaded jar: its own dependencies are inside it.
        {"jmx.exporter.version": version, "excludeTransitive": "true"},
        expect="jmx_prometheus_javaagent-*.jar",
    )
    return next(folder.glob("jmx_prometheus_javaagent-*.jar"))


def agent_jar_or_none(settings: Settings, port: int, what: str) -> Path | None:
    """The agent jar for a JVM whose exporter port is ``port``, or None (no agent).

    None when ``port`` is 0 (the agent turned off) or when the jar cannot be
    fetched: the latter is one warning line naming the cause, and ``what``
    (brokers, the Connect worker) then runs without JMX metrics rather than not
    at all.
    """
    if port == 0:
        return None
    try:
        return ensure_agent_jar(settings)
    except KafkavalError as e:
        print(
            f"warning: {what} start without JMX metrics: {e} "
            "(or set the JMX exporter port to 0 to turn the agent off)",
            file=sys.stderr,
        )
        return None


def agent_option(jar: Path, port: int, rules: Path, host: str = "127.0.0.1") -> str:
    """The JVM option that serves the MBeans ``rules`` selects on ``host``:``port``."""
    return f"-javaagent:{jar}={host}:{port}:{rules}"


def agent_address(argv: list[str]) -> str | None:
    """host:port the agent on this java command line serves, or None (no agent)."""
    for arg in argv:
        if arg.startswith("-javaagent:") and "jmx_prometheus_javaagent" in arg:
            host, port, _rules = arg.split("=", 1)[1].split(":", 2)
            return f"{host}:{port}"
    return None


def broker_port(settings: Settings, node_id: int) -> int:
    """The JMX exporter port of broker ``node_id`` (1-based): jmx_port + node_id - 1."""
    return settings.jmx_port + node_id - 1


def register(settings: Settings, job: str, instance: str, argv: list[str]) -> Path | None:
    """A file_sd entry for the agent on ``argv`` under ``job``/``instance``, if it has one.

    Without an agent an entry left from an earlier start is removed, so Prometheus
    does not keep scraping a port nothing serves.
    """
    address = agent_address(argv)
    if address:
        return register_target(settings, job, instance, address)
    (targets_dir(settings) / f"{job}-{instance}.json").unlink(missing_ok=True)
    return None


def unregister(settings: Settings, job: str) -> None:
    """Remove every file_sd entry of ``job`` (the stack stopped those JVMs)."""
    for path in targets_dir(settings).glob(f"{job}-*.json"):
        path.unlink(missing_ok=True)
