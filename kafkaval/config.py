"""One configuration model for every component.

Values are layered, later layers winning:

1. defaults (the fields below),
2. a TOML config file (``--config PATH``, else ``$KAFKAVAL_CONFIG``, else
   ``./kafkaval.toml`` when it exists),
3. environment variables ``KAFKAVAL_<FIELD>`` (e.g. ``KAFKAVAL_BOOTSTRAP_SERVERS``),
4. command-line flags (passed in as ``overrides``).

Kafka client properties (``kafka``, ``producer``, ``consumer``) are passed to
librdkafka unchanged, so SASL/SSL settings for a secured cluster go there. In
the file they are tables (``[kafka]``); in the environment a comma-separated
``key=value`` list (``KAFKAVAL_KAFKA="security.protocol=SASL_SSL,sasl.mechanism=PLAIN"``);
on the command line ``--kafka-prop key=value`` (repeatable).

docs/configuration.md lists every field; keep it in step with this file.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kafkaval.errors import UsageError

ENV_PREFIX = "KAFKAVAL_"
DEFAULT_CONFIG_FILE = "kafkaval.toml"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything a component may need to know about where things are."""

    # -- the Kafka under test ---------------------------------------------
    bootstrap_servers: str = "127.0.0.1:19092"
    kafka: dict[str, str] = dataclasses.field(default_factory=dict)
    producer: dict[str, str] = dataclasses.field(default_factory=dict)
    consumer: dict[str, str] = dataclasses.field(default_factory=dict)
    # Test topics live under this prefix so a run never writes into a live
    # pipeline's topics (dbserver.public.*) unless the user empties it.
    topic_prefix: str = "kafkaval."

    # -- Prometheus ---------------------------------------------------------
    prometheus_url: str = "http://127.0.0.1:19090"
    # Where loadgen/chaos publish their /metrics; worker i uses base + i.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 19400

    # -- the local stack (Kafka from jars, Prometheus binary) ---------------
    brokers: int = 1
    kafka_version: str = "4.3.0"
    broker_port: int = 19092  # broker i listens on broker_port + i
    controller_port: int = 19192  # controller i listens on controller_port + i
    prometheus_port: int = 19090
    broker_heap: str = "512m"
    # Prometheus JMX exporter agents: broker i serves on jmx_port + i - 1, the
    # local Connect worker on connect_jmx_port; 0 starts that JVM without the agent.
    jmx_port: int = 19700
    connect_jmx_port: int = 19710
    # The startup benchmark starts a cold broker: a JVM from the jars above
    # (empty), or a container from this Kafka image (docker-compose sets it).
    startup_image: str = ""
    # Seconds between Prometheus scrapes: short, so dashboards and short
    # QUICK runs have enough points.
    scrape_interval: float = 2.0

    # -- files ---------------------------------------------------------------
    state_dir: str = ".stack"  # data dirs, logs, pid files of the local stack
    cache_dir: str = ".cache"  # downloaded jars
    results_dir: str = "results"  # run records (JSON)
    reports_dir: str = "reports"  # rendered Markdown reports
    # Scheduled regression jobs and verdict thresholds (TOML; see scheduler/jobs.py).
    schedule_file: str = "schedule.toml"

    # -- chaos safety ----------------------------------------------------------
    # Containers (names) or labels (key=value) that chaos may touch; processes
    # started by the local stack are always allowed.
    chaos_targets: list[str] = dataclasses.field(default_factory=list)

    def client_config(self, role: str = "") -> dict[str, str]:
        """librdkafka properties for a client of ``role`` ('producer'/'consumer'/'')."""
        props = {"bootstrap.servers": self.bootstrap_servers, **self.kafka}
        if role == "producer":
            props.update(self.producer)
        elif role == "consumer":
            props.update(self.consumer)
        return props

    def path(self, name: str) -> Path:
        """A directory field as an absolute Path (relative ones from the cwd)."""
        return Path(getattr(self, name)).expanduser().resolve()


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _field_kind(name: str) -> str:
    default = _FIELDS[name].default
    if _FIELDS[name].default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return "dict" if name in ("kafka", "producer", "consumer") else "list"
    return type(default).__name__


def _coerce(name: str, value: Any, source: str) -> Any:
    """Convert a raw value (str from env/flags, or TOML value) to the field's type."""
    kind = _field_kind(name)
    where = f"{name} (from {source})"
    try:
        if kind == "dict":
            if isinstance(value, str):
                return parse_props(value.split(",") if value else [], where)
            if isinstance(value, Mapping):
                return {str(k): _prop_str(v) for k, v in value.items()}
            raise TypeError
        if kind == "list":
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            if isinstance(value, list):
                return [str(v) for v in value]
            raise TypeError
        if kind == "int":
            if isinstance(value, bool):
                raise TypeError
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "str":
            if not isinstance(value, str):
                raise TypeError
            return value
    except (TypeError, ValueError):
        raise UsageError(f"bad value {value!r} for {where}: expected {kind}") from None
    raise AssertionError(kind)


def _prop_str(value: Any) -> str:
    # librdkafka takes every property as a string; TOML booleans become "true".
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_props(items: list[str], where: str = "--kafka-prop") -> dict[str, str]:
    """Parse ``key=value`` strings into a dict.

    Raises:
        UsageError: an item has no ``=`` or an empty key.
    """
    props: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad Kafka property {item!r} in {where}: write key=value")
        props[key.strip()] = value.strip()
    return props


def _from_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise UsageError(f"config file {path} not found: fix the path or drop --config") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"config file {path} is not valid TOML: {e}") from None
    values = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in _FIELDS:
            raise UsageError(
                f"unknown setting {key!r} in {path}; known: {', '.join(sorted(_FIELDS))}"
            )
        values[name] = _coerce(name, value, str(path))
    return values


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values = {}
    for name in _FIELDS:
        env_name = ENV_PREFIX + name.upper()
        if env_name in environ:
            values[name] = _coerce(name, environ[env_name], env_name)
    return values


def load_settings(
    config_path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the Settings from defaults, file, environment and flags.

    Args:
        config_path: explicit config file; None looks at $KAFKAVAL_CONFIG, then ./kafkaval.toml.
        environ: the environment (defaults to os.environ).
        overrides: values from command-line flags, already parsed; None values are ignored.
            Dict fields given here are merged into (not replacing) the lower layers.

    Raises:
        UsageError: unknown key, bad type, unreadable or invalid file.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if config_path is None and environ.get(ENV_PREFIX + "CONFIG"):
        config_path = environ[ENV_PREFIX + "CONFIG"]
    if config_path is not None:
        values.update(_from_file(Path(config_path)))
    elif Path(DEFAULT_CONFIG_FILE).is_file():
        values.update(_from_file(Path(DEFAULT_CONFIG_FILE)))
    for name, value in _from_env(environ).items():
        values[name] = {**values.get(name, {}), **value} if isinstance(value, dict) else value
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        if name not in _FIELDS:
            raise UsageError(f"unknown setting {name!r}")
        value = _coerce(name, value, "command line") if isinstance(value, str) else value
        values[name] = {**values.get(name, {}), **value} if isinstance(value, dict) else value
    settings = Settings(**values)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if s.brokers not in (1, 3):
        raise UsageError(f"brokers must be 1 or 3, not {s.brokers}")
    for name in ("broker_port", "controller_port", "prometheus_port", "metrics_port"):
        port = getattr(s, name)
        if not 1 <= port <= 65535 - 16:
            raise UsageError(f"{name} {port} is not a usable TCP port (1-65519)")
    for name in ("jmx_port", "connect_jmx_port"):
        port = getattr(s, name)
        if port != 0 and not 1 <= port <= 65535 - 2:
            raise UsageError(f"{name} {port} is not a usable TCP port (1-65533, or 0: no agent)")
    if s.scrape_interval <= 0:
        raise UsageError(f"scrape_interval must be > 0 seconds, not {s.scrape_interval}")
    if not s.bootstrap_servers.strip():
        raise UsageError("bootstrap_servers is empty: set it to host:port[,host:port]")
