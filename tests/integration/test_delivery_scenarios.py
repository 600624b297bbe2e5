"""Each delivery scenario in QUICK mode passes on both cluster shapes (real Kafka)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from chaos.catalog import SCENARIOS
from chaos.netpartition import leftover_rules
from chaos.suite import run_suite
from kafkaval.config import Settings, load_settings
from stack import local

pytestmark = pytest.mark.integration


def _all_running(settings: Settings) -> bool:
    return all(state == "running" for _n, state, _p, _l in local.status(settings))


@pytest.mark.parametrize("name", list(SCENARIOS))
@pytest.mark.parametrize("shape", ["3-broker", "single"])
def test_scenario_passes_quick(
    name: str, shape: str, stack_settings: Settings, cluster_settings: Settings
) -> None:
    settings = cluster_settings if shape == "3-broker" else stack_settings
    record = run_suite(settings, [name], [shape], quick=True, shape_overrides={shape: settings})
    entry = record["scenarios"][name]
    if not entry["passed"] and entry["client_stalled"]:
        # A test client stopped after a broker restart and the scenario named
        # it so: the producer got no more acks (librdkafka#5430, seen about
        # once in six full CI runs on a loaded host) or a consumer recorded no
        # more deliveries (once). Nothing acked may be lost even then; the
        # delivery checks themselves are judged on one more run.
        assert entry["lost"] == 0 and entry["log_duplicates"] == 0, entry["failures"]
        print(f"client stall, run once more: {entry['failures']}")
        record = run_suite(settings, [name], [shape], quick=True, shape_overrides={shape: settings})
        entry = record["scenarios"][name]
    assert entry["cluster"] == shape
    assert entry["passed"], entry["failures"]
    assert record["passed"]
    # The counts the verdict rests on are real: messages flowed and were checked.
    assert entry["sent"] > 100 and entry["acked"] >= entry["sent"] * 0.5
    assert entry["lost"] == 0 and entry["log_duplicates"] == 0
    assert set(entry["groups"]) == set(SCENARIOS[name].groups)
    for group in entry["groups"].values():
        assert group["missing"] == 0 and group["delivered"] >= entry["acked"]
    assert entry["faults"] and all(f["rolled_back"] for f in entry["faults"])
    # Each fault showed its effect on the cluster under test, with traffic flowing.
    for fault in entry["faults"]:
        assert fault["observed_effect"] and fault["observed_effect"]["what"], fault
        assert fault["traffic"]["sent_during_fault"] > 0, fault
        assert all(n > 0 for n in fault["traffic"]["consumed_before_fault"].values()), fault
    assert record["bootstrap_servers"] == settings.bootstrap_servers
    assert record["cluster_id"] == entry["cluster_id"] and len(entry["cluster_id"]) == 22
    assert all(f["started_at"] < f["ended_at"] for f in entry["faults"])
    assert leftover_rules() == []
    assert _all_running(settings)


def test_other_shape_is_started_and_stopped_by_the_suite(tmp_path: Path) -> None:
    """From a single-broker local stack, the 3-broker shape is a second stack
    the suite starts on shifted ports (its own exporter too) and stops again."""
    off = int(os.environ.get("KAFKAVAL_TEST_PORT_OFFSET", "0"))
    base = dataclasses.replace(
        load_settings(environ={}),
        state_dir=str(tmp_path / "state"),
        cache_dir=str(Path(__file__).resolve().parents[2] / ".cache"),
        results_dir=str(tmp_path / "results"),
        broker_port=28500 + off,
        controller_port=28520 + off,
        prometheus_port=28540 + off,
        metrics_port=28560 + off,
        jmx_port=28580 + off,
    )
    local.up(base)
    single = local.local_settings(base)
    try:
        record = run_suite(single, ["multiple-consumer-groups"], ["3-broker"], quick=True)
        entry = record["scenarios"]["multiple-consumer-groups"]
        assert entry["cluster"] == "3-broker" and entry["passed"], entry["failures"]
        other = dataclasses.replace(base, brokers=3, state_dir=f"{base.state_dir}-cluster")
        assert local.running(other) == []  # stopped again
        assert _all_running(single)  # the configured stack untouched
    finally:
        local.down(base)
