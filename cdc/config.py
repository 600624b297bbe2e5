"""Where the CDC pipeline lives: PostgreSQL, the Connect worker, the connector.

The shared ``Settings`` say where Kafka and the state directory are; these
values say where PostgreSQL and Kafka Connect are. Each field can be set from
the environment as ``KAFKAVAL_CDC_<FIELD>`` (e.g. ``KAFKAVAL_CDC_PG_PORT``) or
by a ``cdc`` command-line flag. A ``connect_url`` given explicitly means attach
mode: an existing Connect/Debezium deployment that we register against but
never start or stop. So does ``connect_container``: the Connect worker is that
container (docker-compose's ``connect``), which only ``connector-restart``
touches (``docker kill`` and start, if ``chaos_targets`` allows it).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from kafkaval.errors import UsageError

ENV_PREFIX = "KAFKAVAL_CDC_"
TABLES = ("videos", "users", "comments")


@dataclasses.dataclass(frozen=True)
class CdcConfig:
    """PostgreSQL, Kafka Connect and Debezium connector settings."""

    pg_host: str = "127.0.0.1"
    pg_port: int = 19432
    pg_user: str = "kafkaval"
    pg_password: str = "kafkaval"
    pg_database: str = "kafkaval"
    # The database as the connector reaches it (empty/0: pg_host/pg_port).
    # Differs when Connect runs in a container: compose's `postgres:5432`
    # while kafkaval on the host uses 127.0.0.1:19432.
    connector_pg_host: str = ""
    connector_pg_port: int = 0
    connect_port: int = 19083
    # Empty: the local worker on 127.0.0.1:connect_port. Set: attach mode.
    connect_url: str = ""
    # The container the Connect worker runs in (name or id; attach mode): the
    # one connector-restart kills, if chaos_targets allows it by name or label.
    connect_container: str = ""
    connector_name: str = "kafkaval-postgres"
    topic_prefix: str = "dbserver"
    slot_name: str = "kafkaval_debezium"
    publication_name: str = "kafkaval_publication"
    # How often Connect stores source offsets; bounds duplicates after a crash.
    offset_flush_interval_ms: int = 1000
    connect_heap: str = "512m"
    connect_group_id: str = "kafkaval-connect"

    @property
    def rest_url(self) -> str:
        return (self.connect_url or f"http://127.0.0.1:{self.connect_port}").rstrip("/")

    @property
    def attach(self) -> bool:
        """True when Connect is an existing deployment we must not start or stop."""
        return bool(self.connect_url or self.connect_container)

    @property
    def connector_db(self) -> tuple[str, int]:
        """(host, port) of PostgreSQL as the connector (inside Connect) reaches it."""
        return (self.connector_pg_host or self.pg_host, self.connector_pg_port or self.pg_port)

    def topic(self, table: str) -> str:
        return f"{self.topic_prefix}.public.{table}"

    @property
    def topics(self) -> list[str]:
        return [self.topic(t) for t in TABLES]


_FIELDS = {f.name: f for f in dataclasses.fields(CdcConfig)}


def load_cdc_config(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> CdcConfig:
    """Defaults, then ``KAFKAVAL_CDC_*`` variables, then ``overrides`` (None ignored).

    Raises:
        UsageError: a value has the wrong type or a port is out of range.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, field in _FIELDS.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _coerce(name, raw, type(field.default), ENV_PREFIX + name.upper())
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        if name not in _FIELDS:
            raise UsageError(f"unknown CDC setting {name!r}")
        values[name] = _coerce(name, value, type(_FIELDS[name].default), "command line")
    cfg = CdcConfig(**values)
    for name in ("pg_port", "connect_port", "connector_pg_port"):
        port = getattr(cfg, name)
        if name == "connector_pg_port" and port == 0:
            continue  # 0: the same as pg_port
        if not 1 <= port <= 65535:
            raise UsageError(f"{name} {port} is not a TCP port (1-65535)")
    if cfg.offset_flush_interval_ms < 100:
        raise UsageError(
            f"offset_flush_interval_ms {cfg.offset_flush_interval_ms} is too small (>= 100)"
        )
    if cfg.connect_url and not cfg.connect_url.startswith(("http://", "https://")):
        raise UsageError(f"connect_url {cfg.connect_url!r} must start with http:// or https://")
    return cfg


def _coerce(name: str, value: Any, kind: type, source: str) -> Any:
    if kind is int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise UsageError(
                f"bad value {value!r} for {name} (from {source}): expected an integer"
            ) from None
    return str(value)
