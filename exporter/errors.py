"""Errors of the exporter, converted from docker-py / OS errors where they enter."""

from __future__ import annotations

from kafkaval.errors import KafkavalError


class SourceUnavailable(KafkavalError):
    """The stats source (Docker engine) cannot be reached right now; may recover."""
