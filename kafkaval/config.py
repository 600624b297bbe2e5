"""One configuration model for every component.

Values are layered, later layers winning:

1. defaults (the fields below),
2. a TOML config file (``--config PATH``, else ``$KAFKAVAL_CONFIG``, else
   ``./kafkaval.toml`` when it exists),
3. environment variables ``KAFKAVAL_<FIELD>`` (e.g. ``KAFKAVAL_BOOTSTRAP_SERVERS``),
4. command-line flags (passed in as ``overrides``).

Kafka client properties (``kafka``, ``producer``, ``consumer``) are passed to
librdkafka unchanged, so SASL/SSL settings for a secured cluster go there. In
the file they are tables (``[kafka]``, nested tables flattened with dots); in
the environment one variable per property, ``KAFKAVAL_KAFKA__SASL_PASSWORD``
for ``sasl.password`` (``_`` becomes ``.``; the value is taken whole, commas
and ``=`` included), or the older comma-separated list
``KAFKAVAL_KAFKA="k=v,k=v"`` (a backslash before a literal comma); on the command line
``--kafka-prop key=value`` (repeatable). A value ``@file:PATH`` or ``@env:NAME``
is replaced by the file's content (trailing newline dropped) or the variable's
value when the settings are loaded, so secrets need not be written inline.
Secret properties never leave the process unredacted (kafkaval.redact).

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
from kafkaval.redact import is_secret, redact_props, secret_values

ENV_PREFIX = "KAFKAVAL_"
DEFAULT_CONFIG_FILE = "kafkaval.toml"
# Client-property fields: dicts of librdkafka properties.
PROP_FIELDS = ("kafka", "producer", "consumer")
# KAFKAVAL_KAFKA__SASL_PASSWORD: one property per variable, after this separator.
NESTED_SEP = "__"
STACK_SECURITY_MODES = ("none", "sasl_ssl")
FILE_REF = "@file:"
ENV_REF = "@env:"


# repr=False: the generated repr would print sasl.password into any traceback
# or debug line; __repr__ below redacts.
@dataclasses.dataclass(frozen=True, repr=False)
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
    # "sasl_ssl": clients reach the local brokers over SASL_SSL (SCRAM-SHA-512)
    # with a throwaway CA; see stack/security.py.
    stack_security: str = "none"
    # Prometheus JMX exporter agents: broker i serves on jmx_port + i - 1, the
    # local Connect worker on connect_jmx_port; 0 starts that JVM without the agent.
    jmx_port: int = 19700
    connect_jmx_port: int = 19710
    # The startup benchmark starts a cold broker: a JVM from the jars above
    # (empty), or a container from this Kafka image (docker-compose sets it).
    startup_image: str = ""
    # perf run --engine swarm: the image of the workers (on every node that
    # may run one) and the network of their tasks ("host": the node's own,
    # so they reach a broker and serve /metrics as a local process does).
    worker_image: str = "kafkaval/kafkaval:local"
    worker_network: str = "host"
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

    def secret_values(self) -> list[str]:
        """The values of every secret client property (to redact from free text)."""
        return secret_values(self.kafka, self.producer, self.consumer)

    def __repr__(self) -> str:
        fields = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            fields.append(f"{f.name}={redact_props(value) if f.name in PROP_FIELDS else value!r}")
        return f"Settings({', '.join(fields)})"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _field_kind(name: str) -> str:
    default = _FIELDS[name].default
    if _FIELDS[name].default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return "dict" if name in PROP_FIELDS else "list"
    return type(default).__name__


def _coerce(name: str, value: Any, source: str) -> Any:
    """Convert a raw value (str from env/flags, or TOML value) to the field's type."""
    kind = _field_kind(name)
    where = f"{name} (from {source})"
    try:
        if kind == "dict":
            if isinstance(value, str):
                return parse_props(split_escaped(value), where)
            if isinstance(value, Mapping):
                return _flatten(value, where)
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
        # A property table may hold secrets: name its type, never its content.
        shown = f"a {type(value).__name__}" if kind == "dict" else repr(value)
        raise UsageError(f"bad value {shown} for {where}: expected {kind}") from None
    raise AssertionError(kind)


def _prop_str(value: Any) -> str:
    # librdkafka takes every property as a string; TOML booleans become "true".
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flatten(table: Mapping[str, Any], where: str, prefix: str = "") -> dict[str, str]:
    """A TOML property table as ``{name: str}``; nested tables join their keys with dots.

    An unquoted ``sasl.password = "..."`` in TOML is a nested table
    ``{sasl: {password: ...}}``; flattened, it is the property the user meant.
    """
    props: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            props.update(_flatten(value, where, name + "."))
        elif isinstance(value, list | dict):
            raise UsageError(f"bad value for {name} in {where}: write a string, number or boolean")
        else:
            props[name] = _prop_str(value)
    return props


def split_escaped(text: str, sep: str = ",") -> list[str]:
    """Split ``text`` at ``sep`` except where it is escaped as ``\\<sep>``; empty parts dropped."""
    parts, current, chars = [], [], iter(text)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            current.append(nxt if nxt == sep else ch + nxt)
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def parse_props(items: list[str], where: str = "--kafka-prop") -> dict[str, str]:
    """Parse ``key=value`` strings into a dict (the value is everything after the first ``=``).

    Raises:
        UsageError: an item has no ``=`` or an empty key.
    """
    props: dict[str, str] = {}
    for n, item in enumerate(items, 1):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            # Without "=" the item may be a bare secret: quote it only when it
            # looks like a property name.
            shown = repr(item) if _looks_like_name(item) else f"number {n}"
            raise UsageError(f"bad Kafka property {shown} in {where}: write key=value")
        props[key.strip()] = value.strip()
    return props


def _looks_like_name(text: str) -> bool:
    return bool(text) and all(c.isalnum() or c in "._-" for c in text) and text.lower() == text


def _resolve_refs(props: dict[str, str], field: str, environ: Mapping[str, str]) -> dict[str, str]:
    """``props`` with ``@file:PATH`` / ``@env:NAME`` values replaced by what they name.

    Raises:
        UsageError: the file cannot be read or the variable is not set
            (the message names the property and the reference, never a value).
    """
    out = {}
    for key, value in props.items():
        if value.startswith(FILE_REF):
            path = Path(value.removeprefix(FILE_REF)).expanduser()
            try:
                value = path.read_text().rstrip("\r\n")
            except OSError as e:
                raise UsageError(
                    f"{key} in [{field}] names file {path}, which cannot be read "
                    f"({e.strerror}): fix the path or its permissions"
                ) from None
        elif value.startswith(ENV_REF):
            name = value.removeprefix(ENV_REF)
            if name not in environ:
                raise UsageError(
                    f"{key} in [{field}] names environment variable {name}, which is not set: "
                    "export it or change the reference"
                )
            value = environ[name]
        out[key] = value
    return out


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


def prop_env_var(field: str, prop: str) -> str:
    """The variable that sets client property ``prop`` of ``field`` (``kafka``,
    ``producer``, ``consumer``): ``sasl.password`` -> ``KAFKAVAL_KAFKA__SASL_PASSWORD``."""
    return ENV_PREFIX + field.upper() + NESTED_SEP + prop.upper().replace(".", "_")


def secret_environment(settings: Settings) -> dict[str, str]:
    """The secret client properties of ``settings`` as environment variables.

    A child ``kafkaval`` process gets its secrets this way (they are read back
    by ``load_settings``), never in a config file or on its command line.
    """
    return {
        prop_env_var(field, key): value
        for field in PROP_FIELDS
        for key, value in getattr(settings, field).items()
        if is_secret(key)
    }


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in _FIELDS:
        env_name = ENV_PREFIX + name.upper()
        if env_name in environ:
            values[name] = _coerce(name, environ[env_name], env_name)
    # One variable per property (KAFKAVAL_KAFKA__SASL_PASSWORD -> sasl.password),
    # its value taken whole; these beat the comma list of the same field.
    for field in PROP_FIELDS:
        head = ENV_PREFIX + field.upper() + NESTED_SEP
        for env_name in sorted(environ):
            if env_name.startswith(head) and len(env_name) > len(head):
                prop = env_name.removeprefix(head).lower().replace("_", ".")
                values.setdefault(field, {})[prop] = environ[env_name]
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
    for field in PROP_FIELDS:
        if field in values:
            values[field] = _resolve_refs(values[field], field, environ)
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
    if s.stack_security not in STACK_SECURITY_MODES:
        raise UsageError(
            f"stack_security must be one of {', '.join(STACK_SECURITY_MODES)}, "
            f"not {s.stack_security!r}"
        )
    for name in ("jmx_port", "connect_jmx_port"):
        port = getattr(s, name)
        if port != 0 and not 1 <= port <= 65535 - 2:
            raise UsageError(f"{name} {port} is not a usable TCP port (1-65533, or 0: no agent)")
    if s.scrape_interval <= 0:
        raise UsageError(f"scrape_interval must be > 0 seconds, not {s.scrape_interval}")
    if not s.bootstrap_servers.strip():
        raise UsageError("bootstrap_servers is empty: set it to host:port[,host:port]")
