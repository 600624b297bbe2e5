"""kafkaval against a real SASL_SSL broker (SCRAM-SHA-512, TLS from a throwaway CA).

Everything runs through the ``kafkaval`` command, as a user would: settings
from the stack's ``client.toml`` (the password as an ``@file:`` reference) and
the environment. After each run every file it wrote (results, reports, logs,
pid files, the stack's state and Prometheus' TSDB) and its stdout/stderr are
searched for the password.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cdc_fixtures import assert_insert_round_trip
from ports import free_port

from cdc import pipeline
from cdc.config import load_cdc_config
from kafkaval.config import Settings
from stack import security

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
_OFF = int(os.environ.get("KAFKAVAL_TEST_PORT_OFFSET", "0"))
SECURED_CDC_PORTS = {"pg_port": 29933 + _OFF, "connect_port": 29983 + _OFF}
# This is a test of security, not speed: on a 2-core host shared by several
# test sessions (load average 50 seen) a QUICK p95 reached 17 s. The latency
# limit only stops a run that stalls outright; every message must still be
# acked and consumed (asserted below).
GENEROUS = [
    "--threshold", "max_p95_service_seconds=60",
    "--threshold", "min_rate_ratio=0.5",
]  # fmt: skip


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    """The process environment without the developer's KAFKAVAL_* settings.

    Where the stack is and how to reach it comes from its ``client.toml``
    alone; only the jar cache (shared) and a free /metrics port are added.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKAVAL_")}
    env.update(
        KAFKAVAL_CACHE_DIR=settings.cache_dir,
        KAFKAVAL_METRICS_PORT=str(free_port()),
        PYTHONPATH=str(REPO),
    )
    env.update(extra)
    return env


def _kafkaval(
    settings: Settings, cwd: Path, *argv: str, timeout: float = 600, **env: str
) -> subprocess.CompletedProcess[str]:
    material = security.material_of(settings.path("state_dir"))
    return subprocess.run(
        [sys.executable, "-m", "kafkaval", *argv, "--config", str(material.client_toml)],
        cwd=cwd,
        env=_env(settings, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _files_holding(secret: bytes, *roots: Path, skip: Path) -> list[Path]:
    """Every file under ``roots`` (binary ones too: Prometheus' TSDB) containing ``secret``."""
    found = []
    for root in roots:
        # os.walk, not rglob: Kafka and Prometheus remove folders while we look
        # (a deleted topic's "-delete" folder, a TSDB compaction); rglob raises then.
        for folder, _dirs, files in os.walk(root, onerror=lambda _e: None):
            for name in files:
                path = Path(folder, name)
                if path == skip:
                    continue
                try:
                    if secret in path.read_bytes():
                        found.append(path)
                except OSError:
                    continue  # removed while we looked
    return found


@pytest.fixture(scope="module")
def password(secured_settings: Settings) -> str:
    return security.material_of(secured_settings.path("state_dir")).password()


def _assert_no_secret(
    settings: Settings, password: str, run_dir: Path, *outputs: subprocess.CompletedProcess[str]
) -> None:
    material = security.material_of(settings.path("state_dir"))
    for out in outputs:
        assert password not in out.stdout and password not in out.stderr
    leaks = _files_holding(
        password.encode(), run_dir, settings.path("state_dir"), skip=material.password_file
    )
    assert leaks == []


def test_quick_performance_profile_over_sasl_ssl(
    secured_settings: Settings, password: str, tmp_path: Path
) -> None:
    results, reports = tmp_path / "results", tmp_path / "reports"
    run = _kafkaval(
        secured_settings, tmp_path, "perf", "run", "--quick", "--profile", "throughput",
        "--results-dir", str(results), *GENEROUS,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    record = json.loads((results / "latest-performance.json").read_text())
    result = record["profiles"]["throughput"]
    assert record["passed"] and result["sent"] > 0
    assert result["acked"] == result["consumed"] == result["sent"] and result["failed"] == 0
    assert record["environment"]["client_security"] == "SASL_SSL SCRAM-SHA-512"
    report = _kafkaval(
        secured_settings, tmp_path, "report", "--results-dir", str(results),
        "--reports-dir", str(reports), "--no-charts",
    )  # fmt: skip
    assert report.returncode == 0, report.stdout[-2000:] + report.stderr[-2000:]
    assert any(reports.glob("*.md"))
    _assert_no_secret(secured_settings, password, tmp_path, run, report)


def _other_ca(tmp_path: Path) -> str:
    other = security.material_of(tmp_path / "other")
    security.ensure_material(other)
    return str(other.ca)


@pytest.mark.parametrize(
    ("case", "cause"),
    [
        ("wrong-password", "refused the client's SASL authentication"),
        ("untrusted-certificate", "certificate verify failed"),
        ("plaintext-client", "probably a TLS listener"),
    ],
)
def test_bad_client_settings_fail_before_work_in_one_line(
    secured_settings: Settings, password: str, tmp_path: Path, case: str, cause: str
) -> None:
    env: dict[str, str] = {}
    if case == "wrong-password":
        env["KAFKAVAL_KAFKA__SASL_PASSWORD"] = "not-" + password
    elif case == "untrusted-certificate":
        env["KAFKAVAL_KAFKA__SSL_CA_LOCATION"] = _other_ca(tmp_path)
    else:
        env["KAFKAVAL_KAFKA__SECURITY_PROTOCOL"] = "PLAINTEXT"
    run = _kafkaval(
        secured_settings, tmp_path, "perf", "run", "--quick", "--profile", "throughput",
        "--results-dir", str(tmp_path / "results"), timeout=120, **env,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr[-3000:]  # not a librdkafka log flood
    assert lines[0].startswith("kafkaval: error: preflight: ") and cause in lines[0]
    assert f"Kafka at {secured_settings.bootstrap_servers}" in lines[0]
    assert "throughput:" not in run.stdout  # no work started
    assert not (tmp_path / "results").exists()
    _assert_no_secret(secured_settings, password, tmp_path, run)


def test_delivery_scenario_over_sasl_ssl(
    secured_settings: Settings, password: str, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    # consumer-restart: the verifiable consumer is a process of its own, killed
    # and started again; it gets the password by environment only.
    run = _kafkaval(
        secured_settings, tmp_path, "delivery", "run", "--quick", "--cluster", "single",
        "--scenario", "consumer-restart", "--results-dir", str(results),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    record = json.loads((results / "latest-delivery.json").read_text())
    entry = record["scenarios"]["consumer-restart"]
    assert record["passed"] and entry["passed"]
    assert record["environment"]["client_security"] == "SASL_SSL SCRAM-SHA-512"
    _assert_no_secret(secured_settings, password, tmp_path, run)


def test_cdc_pipeline_over_sasl_ssl(
    secured_settings: Settings, password: str, tmp_root: Path
) -> None:
    # PostgreSQL runs as the postgres user when we are root: it must be able to
    # enter the session's temporary folder.
    tmp_root.chmod(0o711)
    cfg = load_cdc_config(environ={}, overrides=SECURED_CDC_PORTS)
    try:
        pipeline.up(secured_settings, cfg)
        # Connect's clients (configs/offsets/status topics, the source producer)
        # and kafkaval's reader all went through the SASL_SSL listener.
        assert_insert_round_trip(secured_settings, cfg)
        worker = secured_settings.path("state_dir") / "config" / "connect-distributed.properties"
        assert "producer.sasl.jaas.config" in worker.read_text()
    finally:
        if os.environ.get("KAFKAVAL_REUSE_STACK") != "1":
            pipeline.down(secured_settings, cfg)
    _assert_no_secret(secured_settings, password, tmp_root)
