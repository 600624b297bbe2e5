"""Scrape-target registration: how a metrics endpoint tells Prometheus it exists.

The local stack's Prometheus discovers targets from JSON files in
``<state_dir>/targets/`` (file_sd, watched with inotify, so a new file is picked
up within a second). A loadgen worker, a chaos runner or the exporter writes
one file for its endpoint while it runs and removes it when it stops. Against
a Prometheus we did not start (compose, the user's own), the files are
harmless and that Prometheus's own scrape config applies.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from kafkaval.config import Settings
from kafkaval.files import write_atomic


def targets_dir(settings: Settings) -> Path:
    return settings.path("state_dir") / "targets"


def register_target(settings: Settings, job: str, instance: str, address: str) -> Path:
    """Write a file_sd entry for ``address`` (host:port) under ``job``; returns its path."""
    entry = [{"targets": [address], "labels": {"job": job, "instance": instance}}]
    path = targets_dir(settings) / f"{job}-{instance}.json"
    return write_atomic(path, json.dumps(entry))


@contextlib.contextmanager
def scrape_target(settings: Settings, job: str, instance: str, address: str) -> Iterator[Path]:
    """Register ``address`` for the duration of the block."""
    path = register_target(settings, job, instance, address)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
