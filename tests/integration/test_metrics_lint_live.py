"""``promtool check metrics`` on the live /metrics endpoints of a QUICK run.

The unit tier lints every collector filled with fake data
(tests/unit/test_metric_names.py); this reads what the real endpoints serve
while a QUICK performance run goes on: the load generator's (sampled once it
has acked messages), the stack's exporter with its consumer-group lag, and
the broker's JMX exporter agent.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from ports import free_port
from report_runs import REPO, settings_env

from kafkaval.config import Settings
from stack.local import exporter_port

pytestmark = pytest.mark.integration

# Two families keep the names their ecosystems gave them, so that existing
# dashboards and alerts work here: the broker's follow Strimzi's
# kafka-metrics.yaml (a quantile label and a _count suffix without a summary),
# the exporter's lag sum kafka_exporter's (a _sum suffix). Both are exposed
# untyped, which promtool's lint exempts from the summary-suffix rules; so no
# endpoint may report anything at all.


def _get(url: str) -> str | None:
    try:
        r = requests.get(url, timeout=5)
    except requests.RequestException:
        return None
    return r.text if r.ok else None


def _promtool(text: str) -> list[str]:
    exe = shutil.which("promtool")
    assert exe, "promtool not found: apt-get install prometheus"
    done = subprocess.run(
        [exe, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    return (done.stdout + done.stderr).splitlines()


def _loadgen_text_with_acks(run: subprocess.Popen[str], url: str, timeout: float) -> str:
    """The loadgen's /metrics once it has counted acked messages."""
    acked = re.compile(r"^kafkaval_loadgen_messages_acked_total\{[^}]*\} ([1-9][0-9.e+]*)$", re.M)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.poll() is None:
        text = _get(url)
        if text and acked.search(text):
            return text
        time.sleep(0.5)
    raise AssertionError(f"no acked messages on {url} while the run went on")


def test_promtool_reports_nothing_on_the_live_endpoints(
    stack_settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    settings = dataclasses.replace(
        stack_settings, metrics_port=port, results_dir=str(tmp_path / "results")
    )
    argv = [sys.executable, "-m", "kafkaval", "perf", "run", "--quick", "--no-progress"]
    argv += ["--profile", "throughput"]
    with subprocess.Popen(
        argv,
        cwd=REPO,
        env=settings_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as run:
        try:
            texts = {
                "loadgen": _loadgen_text_with_acks(run, f"http://127.0.0.1:{port}/metrics", 120)
            }
            output, _ = run.communicate(timeout=300)
        finally:
            if run.poll() is None:
                run.kill()
    assert run.returncode in (0, 1), output[-3000:]  # a verdict, not a crash
    exporter = _get(f"http://127.0.0.1:{exporter_port(stack_settings)}/metrics")
    broker = _get(f"http://127.0.0.1:{stack_settings.jmx_port}/metrics")
    assert exporter and "kafka_consumergroup_lag" in exporter
    assert broker and "kafka_server_brokertopicmetrics_messagesin_total" in broker
    # Strimzi's names and labels are still there, only their type changed.
    assert re.search(r'kafka_network_requestmetrics_totaltimems\{[^}]*quantile="0.99"', broker)
    assert "kafka_network_requestmetrics_totaltimems_count{" in broker
    texts["exporter"] = exporter
    texts["broker"] = broker

    for name, text in texts.items():
        assert _promtool(text) == [], name
