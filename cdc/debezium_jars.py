"""The Debezium PostgreSQL connector as a Connect plugin folder, fetched once.

``stack/debezium-pom.xml`` names the connector; Maven copies it and its
runtime dependencies into ``<cache_dir>/debezium-<version>/debezium-connector-postgres/``.
Kafka's own jars (and SLF4J) are left out: the worker provides them, and a
second copy in the plugin folder would only shadow them. As with the Kafka
jars, the download goes to a staging folder renamed when complete.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from cdc.errors import CdcError
from kafkaval.config import Settings
from stack.jars import COMPLETE_MARKER, require_tool

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
    target = plugin_path_dir(settings, version)
    if (target / COMPLETE_MARKER).exists():
        return target
    mvn = require_tool("mvn", "install Apache Maven (Debian: apt-get install maven)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    log = target.parent / f"{target.name}.mvn.log"
    print(f"fetching Debezium {version} PostgreSQL connector from Maven Central (log: {log}) ...")
    cmd = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        f"-Ddebezium.version={version}",
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        "-DexcludeGroupIds=org.apache.kafka,org.slf4j",
        f"-DoutputDirectory={staging / PLUGIN_NAME}",
    ]
    with log.open("w") as out:
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode
    if rc != 0 or not any((staging / PLUGIN_NAME).glob("debezium-connector-postgres-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        raise CdcError(f"Maven could not fetch Debezium {version} (exit {rc}); read {log}")
    (staging / COMPLETE_MARKER).write_text(version + "\n")
    if target.exists():  # an incomplete earlier attempt
        shutil.rmtree(target)
    staging.rename(target)
    return target
