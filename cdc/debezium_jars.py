"""The Debezium PostgreSQL connector as a Connect plugin folder, fetched once.

``stack/debezium-pom.xml`` names the connector; Maven copies it and its
runtime dependencies into ``<cache_dir>/debezium-<version>/debezium-connector-postgres/``.
Kafka's own jars (and SLF4J) are left out: the worker provides them, and a
second copy in the plugin folder would only shadow them. As with the Kafka
jars, the download goes to a staging folder renamed when complete.
"""

from __future__ import annotations

from pathlib import Path

from cdc.errors import CdcError
from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from stack.jars import fetch_maven_classpath

POM = Path(__file__).resolve().parents[1] / "stack" / "debezium-pom.xml"
DEBEZIUM_VERSION = "3.6.1.Final"
PLUGIN_NAME = "debezium-connector-postgres"
CONNECTOR_PLUGIN_CLASS = "io.debezium.connector.postgresql.PostgresConnector"


def plugin_path_dir(settings: Settings, version: str = DEBEZIUM_VERSION) -> Path:
    """The folder given to Connect as ``plugin.path`` (it holds one plugin folder)."""
    return settings.path("cache_dir") / f"debezium-{version}"


def ensure_debezium_plugin(
    settings: Settings, version: str = DEBEZIUM_VERSION, pom: Path = POM
) -> Path:
    """The ``plugin.path`` folder with the Debezium PostgreSQL connector, downloading if missing.

    Raises:
        CdcError: Maven is missing or the download failed (its log is named).
    """
    try:
        return fetch_maven_classpath(
            pom,
            plugin_path_dir(settings, version),
            f"Debezium {version} PostgreSQL connector",
            properties={
                "debezium.version": version,
                "includeScope": "runtime",
                # Kafka's and SLF4J's jars come from the worker (see above).
                "excludeGroupIds": "org.apache.kafka,org.slf4j",
            },
            subdir=PLUGIN_NAME,
            expect="debezium-connector-postgres-*.jar",
        )
    except KafkavalError as e:
        raise CdcError(str(e)) from e
