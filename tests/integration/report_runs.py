"""One real QUICK performance run and delivery run, shared by the report and dashboard tests.

The runs go through the ``kafkaval`` command (the path users take: each run
exposes /metrics, registers it with the stack's Prometheus and lingers for the
final scrape), with the stack's exporter watching its processes meanwhile.
They are run once per session (cached here, not in a fixture, so two test
modules can share them).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kafkaval.config import Settings
from kafkaval.prom_client import PromClient
from kafkaval.records import parse_iso

REPO = Path(__file__).resolve().parents[2]
PERF_PROFILE = "throughput"
DELIVERY_SCENARIO = "consumer-restart"


@dataclasses.dataclass
class Runs:
    settings: Settings
    perf: dict[str, Any]
    delivery: dict[str, Any]
    outputs: dict[str, str]

    def window(self, record: dict[str, Any], pad: float = 6.0) -> tuple[float, float]:
        return (
            parse_iso(record["started_at"]).timestamp(),
            parse_iso(record["ended_at"]).timestamp() + pad,
        )


_CACHE: dict[str, Runs] = {}


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a ``kafkaval`` subprocess exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKAVAL_")}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ",".join(value)
        env[f"KAFKAVAL_{field.name.upper()}"] = str(value)
    return env


def kafkaval(settings: Settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kafkaval", *args],
        cwd=REPO,
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def run_once(settings: Settings) -> Runs:
    """Run (once per session) a QUICK perf run and a QUICK delivery run."""
    key = settings.results_dir
    if key in _CACHE:
        return _CACHE[key]
    # Results and reports of their own: other tests of the session write
    # latest-*.json into the stack's results dir, and the reports must be
    # built from exactly these runs.
    base = Path(settings.results_dir)
    settings = dataclasses.replace(
        settings,
        results_dir=str(base.parent / f"{base.name}-report-runs"),
        reports_dir=str(base.parent / f"{base.name}-report-runs-reports"),
    )
    prom = PromClient(settings.prometheus_url)
    outputs = {}
    # The stack's own process exporter (started by `stack up`) watches it meanwhile.
    wait_for(
        lambda: bool(prom.query("container_cpu_usage_seconds_total")),
        60,
        "the stack exporter's series in Prometheus",
    )
    perf = kafkaval(settings, "perf", "run", "--quick", "--profile", PERF_PROFILE, "--no-progress")
    outputs["perf"] = perf.stdout + perf.stderr
    assert perf.returncode in (0, 1), outputs["perf"]
    delivery = kafkaval(
        settings,
        "delivery",
        "run",
        "--quick",
        "--scenario",
        DELIVERY_SCENARIO,
        "--cluster",
        "single",
        # The JUnit file a CI would read (test_gating checks it).
        "--junit",
        str(Path(settings.results_dir) / "junit-delivery.xml"),
    )
    outputs["delivery"] = delivery.stdout + delivery.stderr
    assert delivery.returncode in (0, 1), outputs["delivery"]
    results = settings.path("results_dir")
    runs = Runs(
        settings,
        json.loads((results / "latest-performance.json").read_text()),
        json.loads((results / "latest-delivery.json").read_text()),
        outputs,
    )
    _CACHE[key] = runs
    return runs
