"""Live mutation: a broker outside the cluster under test is refused, never faulted.

The single-broker stack is up as a would-be target while bootstrap points at
the 3-broker cluster: chaos must refuse it (exit 2, one line) and leave it
running, untouched, instead of killing it and passing a run whose faults never
reached the cluster under test.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.errors import TargetNotAllowed
from chaos.suite import run_suite
from kafkaval.config import Settings
from stack import local

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _broker_pid(settings: Settings) -> int | None:
    return {p.name: p.pid for p in local.running(settings)}.get("broker-1")


def test_cli_refuses_a_target_of_another_cluster(
    stack_settings: Settings, cluster_settings: Settings, tmp_path: Path
) -> None:
    pid = _broker_pid(stack_settings)
    assert pid is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKAVAL_")}
    env.update(
        KAFKAVAL_STATE_DIR=stack_settings.state_dir,  # its broker-1 is the local target
        KAFKAVAL_BOOTSTRAP_SERVERS=cluster_settings.bootstrap_servers,
        KAFKAVAL_BROKERS="3",
        KAFKAVAL_RESULTS_DIR=str(tmp_path / "results"),
    )
    argv = ["delivery", "run", "--quick", "--cluster", "3-broker", "--target", "broker-1"]
    done = subprocess.run(
        [sys.executable, "-m", "kafkaval", *argv],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    err = done.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "broker-1 belongs to cluster" in err and cluster_settings.bootstrap_servers in err
    assert _broker_pid(stack_settings) == pid  # not touched
    assert not (tmp_path / "results").exists()  # refused before any run


def test_the_leader_of_the_cluster_under_test_is_never_a_local_broker_of_another(
    stack_settings: Settings, cluster_settings: Settings
) -> None:
    """Without --target the fault goes to the leader of partition 0; the local
    stack here is another cluster, so whichever node leads, nothing is faulted."""
    pid = _broker_pid(stack_settings)
    mixed = dataclasses.replace(
        stack_settings, bootstrap_servers=cluster_settings.bootstrap_servers
    )
    with pytest.raises(TargetNotAllowed) as e:
        run_suite(
            mixed, ["broker-restart"], ["single"], quick=True, shape_overrides={"single": mixed}
        )
    assert e.value.exit_code == 2
    message = str(e.value)
    assert "belongs to cluster" in message or "not allowed" in message, message
    assert _broker_pid(stack_settings) == pid
    assert all(pid is not None for pid in map(_broker_pid, [stack_settings, cluster_settings]))
