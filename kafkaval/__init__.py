"""Shared core of the Kafka validation stack: configuration, run records, errors, CLI."""

__version__ = "0.1.0"
