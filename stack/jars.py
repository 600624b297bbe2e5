"""The Kafka classpath, fetched once from Maven Central into the cache dir.

``stack/pom.xml`` lists the broker, the tools and a log4j binding; Maven's
``dependency:copy-dependencies`` copies them with all their dependencies into
``<cache_dir>/kafka-<version>/``. The copy goes to a temporary folder first and
is renamed when complete, so an interrupted download never looks finished; a
second call finds the folder and downloads nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError

POM = Path(__file__).with_name("pom.xml")
COMPLETE_MARKER = ".complete"


def require_tool(name: str, fix: str) -> str:
    """Path of executable ``name``, or a one-line error saying how to get it."""
    path = shutil.which(name)
    if not path:
        raise KafkavalError(f"{name} not found on PATH: {fix}")
    return path


def require_java() -> str:
    return require_tool(
        "java", "install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)"
    )


def kafka_classpath_dir(settings: Settings) -> Path:
    return settings.path("cache_dir") / f"kafka-{settings.kafka_version}"


def ensure_kafka_jars(settings: Settings, pom: Path = POM) -> Path:
    """The folder holding every jar the broker and tools need, downloading if missing.

    Raises:
        KafkavalError: Maven is missing or the download failed (its log is named).
    """
    return fetch_maven_classpath(
        pom,
        kafka_classpath_dir(settings),
        f"Kafka {settings.kafka_version}",
        {"kafka.version": settings.kafka_version},
    )


def fetch_maven_classpath(
    pom: Path,
    target: Path,
    what: str,
    properties: dict[str, str] | None = None,
    subdir: str = "",
    expect: str = "*.jar",
) -> Path:
    """Copy the dependencies of ``pom`` (with theirs) into ``target``, once.

    Args:
        pom: a pom.xml whose dependencies make up the classpath.
        target: the folder to fill; complete when it holds the marker file.
        what: a name for messages ("Kafka 4.3.0", "Debezium 3.6.1.Final").
        properties: -D properties for Maven (e.g. a version, scope or exclusions).
        subdir: copy into ``target/subdir`` (a Connect plugin folder) instead.
        expect: a glob that must match in the copied folder, or the fetch failed.

    Raises:
        KafkavalError: Maven is missing or the download failed (its log is named).
    """
    if (target / COMPLETE_MARKER).exists():
        return target
    mvn = require_tool("mvn", "install Apache Maven (Debian: apt-get install maven)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    log = target.parent / f"{target.name}.mvn.log"
    print(f"fetching {what} jars from Maven Central (log: {log}) ...")
    cmd = [mvn, "-q", "-B", "-f", str(pom)]
    cmd += [f"-D{k}={v}" for k, v in (properties or {}).items()]
    cmd += ["dependency:copy-dependencies", f"-DoutputDirectory={staging / subdir}"]
    with log.open("w") as out:
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode
    if rc != 0 or not any((staging / subdir).glob(expect)):
        shutil.rmtree(staging, ignore_errors=True)
        raise KafkavalError(f"Maven could not fetch {what} jars (exit {rc}); read {log}")
    (staging / COMPLETE_MARKER).write_text(what + "\n")
    if target.exists():  # an incomplete earlier attempt
        shutil.rmtree(target)
    staging.rename(target)
    return target
