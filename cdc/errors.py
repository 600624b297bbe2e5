"""The exception base of the CDC package."""

from __future__ import annotations

from kafkaval.errors import KafkavalError


class CdcError(KafkavalError):
    """A CDC failure a user can meet (database, Connect, connector); exit code 1."""
