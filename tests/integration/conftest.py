"""Session-wide real services for the integration tier.

``stack_settings``: a single-broker local stack (Kafka + Prometheus) on test
ports in a temporary state dir, started once per session and stopped in
``finally``. ``cluster_settings``: the same with 3 brokers; ``secured_settings``:
one broker with a SASL_SSL client listener. With
``KAFKAVAL_REUSE_STACK=1`` the fixtures reuse (or start and leave running) the
stacks in ``.stack-test`` / ``.stack-test-cluster`` so reruns skip startup.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kafkaval.config import Settings, load_settings
from stack import local

REPO = Path(__file__).resolve().parents[2]
REUSE = os.environ.get("KAFKAVAL_REUSE_STACK") == "1"

# Test ports stay below 32768, the start of Linux's ephemeral range: a port in
# it can be taken at any moment as the local port of some outgoing connection
# (a compose port failed to bind that way in CI).
# KAFKAVAL_TEST_PORT_OFFSET shifts every test port, so two test sessions on
# one machine (two checkouts, two developers) do not collide.
_OFF = int(os.environ.get("KAFKAVAL_TEST_PORT_OFFSET", "0"))
SINGLE_PORTS = {
    "broker_port": 29092 + _OFF,
    "controller_port": 29192 + _OFF,
    "prometheus_port": 29090 + _OFF,
    "metrics_port": 29400 + _OFF,
    "jmx_port": 29870 + _OFF,
    "connect_jmx_port": 29880 + _OFF,
}
CLUSTER_PORTS = {
    "broker_port": 29292 + _OFF,
    "controller_port": 29392 + _OFF,
    "prometheus_port": 29091 + _OFF,
    "metrics_port": 29500 + _OFF,
    "jmx_port": 29873 + _OFF,
    "connect_jmx_port": 29881 + _OFF,
}
# The SASL_SSL stack (one broker); its inter-broker listener is controller + 50.
SECURED_PORTS = {
    "broker_port": 29952 + _OFF,
    "controller_port": 29962 + _OFF,
    "prometheus_port": 29950 + _OFF,
    "metrics_port": 29900 + _OFF,
    # Every port set here: a default would be the user's own stack's (jmx 19700).
    "jmx_port": 29877 + _OFF,
    "connect_jmx_port": 29882 + _OFF,
}


def _start(
    name: str, brokers: int, ports: dict[str, int], tmp_root: Path, security: str = "none"
) -> Settings:
    suffix = {"single": "", "cluster": "-cluster"}.get(name, f"-{name}") + (
        f"-{_OFF}" if _OFF else ""
    )
    state = REPO / f".stack-test{suffix}" if REUSE else tmp_root / name
    base = load_settings(environ={})  # tests ignore the developer's environment
    settings = dataclasses.replace(
        base,
        brokers=brokers,
        state_dir=str(state),
        cache_dir=str(REPO / ".cache"),
        results_dir=str(tmp_root / f"{name}-results"),
        reports_dir=str(tmp_root / f"{name}-reports"),
        stack_security=security,
        **ports,
    )
    local.up(settings)
    return local.local_settings(settings)


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="kafkaval-it-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def stack_settings(tmp_root: Path) -> Iterator[Settings]:
    settings = None
    try:
        settings = _start("single", 1, SINGLE_PORTS, tmp_root)
        yield settings
    finally:
        if settings is not None and not REUSE:
            local.down(settings)


@pytest.fixture(scope="session")
def cluster_settings(tmp_root: Path) -> Iterator[Settings]:
    settings = None
    try:
        settings = _start("cluster", 3, CLUSTER_PORTS, tmp_root)
        yield settings
    finally:
        if settings is not None and not REUSE:
            local.down(settings)


# Module scope: only test_secured_stack.py uses it, so its broker stops there.
@pytest.fixture(scope="module")
def secured_settings(tmp_root: Path) -> Iterator[Settings]:
    """A single broker whose clients must use SASL_SSL (``stack up --security sasl_ssl``)."""
    settings = None
    try:
        settings = _start("secured", 1, SECURED_PORTS, tmp_root, security="sasl_ssl")
        yield settings
    finally:
        if settings is not None and not REUSE:
            local.down(settings)
