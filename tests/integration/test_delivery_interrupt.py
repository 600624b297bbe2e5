"""Ctrl-C during a partition: no iptables rule left, every broker running and serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaos.netpartition import leftover_rules
from chaos.safety import broker_listed
from kafkaval.config import Settings
from kafkaval.waiting import wait_until
from stack import local

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _env(s: Settings) -> dict[str, str]:
    fields = (
        "bootstrap_servers",
        "brokers",
        "broker_port",
        "controller_port",
        "prometheus_port",
        "metrics_port",
        "state_dir",
        "cache_dir",
        "results_dir",
        "prometheus_url",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKAVAL_")}
    env.update({f"KAFKAVAL_{f.upper()}": str(getattr(s, f)) for f in fields})
    return env


def test_sigint_mid_partition_rolls_back(cluster_settings: Settings) -> None:
    argv = [sys.executable, "-m", "kafkaval", "delivery", "run", "--quick", "--cluster",
            "3-broker", "--scenario", "network-partition", "--fault-seconds", "60"]  # fmt: skip
    proc = subprocess.Popen(
        argv, cwd=REPO, env=_env(cluster_settings), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines = []
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "fault partition on" in line or time.monotonic() > deadline:
                break
        assert any("fault partition on" in line for line in lines), "".join(lines)
        # The fault is really applied: our rules exist before the interrupt.
        deadline = time.monotonic() + 10
        while not leftover_rules() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert leftover_rules(), "partition rules never appeared"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=180)
        lines.append(out)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = "".join(lines)
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    assert leftover_rules() == []
    assert all(state == "running" for _n, state, _p, _l in local.status(cluster_settings))
    # Healed is not yet served: a broker fenced while cut off (or one that
    # re-registers with a new controller after the cut one led the quorum)
    # takes a few heartbeats to be listed again; on a loaded host more.
    client = cluster_settings.client_config()
    for node in (1, 2, 3):
        assert wait_until(lambda n=node: broker_listed(client, n), 60, 0.5), (
            f"broker {node} not serving within 60 s of the rollback"
        )
