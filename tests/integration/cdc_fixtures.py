"""Session fixture for the CDC tests: PostgreSQL + Connect + Debezium on the test stack.

Ports: PostgreSQL 29432 + offset, Connect REST 29083 + offset (offset from
KAFKAVAL_TEST_PORT_OFFSET, as for the Kafka test ports). Kafka is the
``stack_settings`` single-broker stack. Torn down in ``finally`` unless
KAFKAVAL_REUSE_STACK=1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cdc import pipeline
from cdc.config import CdcConfig, load_cdc_config
from kafkaval.config import Settings

_OFF = int(os.environ.get("KAFKAVAL_TEST_PORT_OFFSET", "0"))
CDC_PORTS = {"pg_port": 29432 + _OFF, "connect_port": 29083 + _OFF}
REUSE = os.environ.get("KAFKAVAL_REUSE_STACK") == "1"


@pytest.fixture(scope="session")
def cdc_config(stack_settings: Settings, tmp_root: Path) -> Iterator[CdcConfig]:
    """The CDC pipeline up (connector RUNNING) on top of the test Kafka."""
    # PostgreSQL runs as the postgres user when we are root: it must be able to
    # enter the session's temporary folder (mkdtemp makes it 0700).
    tmp_root.chmod(0o711)
    cfg = load_cdc_config(environ={}, overrides=CDC_PORTS)
    try:
        pipeline.up(stack_settings, cfg)
        yield cfg
    finally:
        if not REUSE:
            pipeline.down(stack_settings, cfg)


def prom_last(settings: Settings, selector: str) -> float:
    """The latest value of ``selector`` in the test Prometheus (last 10 minutes)."""
    r = requests.get(
        f"{settings.prometheus_url}/api/v1/query",
        params={"query": f"last_over_time({selector}[10m])"},
        timeout=10,
    )
    return float(r.json()["data"]["result"][0]["value"][1])
