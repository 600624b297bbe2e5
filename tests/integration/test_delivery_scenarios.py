"""Each delivery scenario in QUICK mode passes on both cluster shapes (real Kafka)."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest

from chaos.catalog import SCENARIOS
from chaos.checker import GROUP_ANOMALIES, LOG_ANOMALIES
from chaos.client_log import LEADER_LOST_SIGNATURE
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
    if not entry["passed"] and (entry["client_stalled"] or _epoch_bumped(entry)):
        # A test client's own bug, named by the scenario from the client's log:
        # - a stall after a broker restart: the producer got no more acks
        #   (librdkafka#5430, seen about once in six full CI runs on a loaded
        #   host) or a consumer recorded no more deliveries (once);
        # - log duplicates after the idempotent producer bumped its epoch
        #   (librdkafka#4953, once in about five CI runs: 6 duplicates after a
        #   broker kill on the 3-broker cluster).
        # Each explains one count only: the producer's acks, a stalled
        # group's missing, or the log duplicates. The rest of the verdict must
        # hold on this run too; only the explained count is judged on one
        # more run.
        producer_stalled, stalled_groups = _stalls(entry)
        _assert_verdict(
            entry, name, shape, settings, producer_stalled, stalled_groups, _epoch_bumped(entry)
        )
        print(f"client bug named, run once more: {entry['failures']}")
        record = run_suite(settings, [name], [shape], quick=True, shape_overrides={shape: settings})
        entry = record["scenarios"][name]
    assert entry["passed"], entry["failures"]
    assert record["passed"]
    _assert_verdict(entry, name, shape, settings)
    assert record["bootstrap_servers"] == settings.bootstrap_servers
    assert record["cluster_id"] == entry["cluster_id"]
    assert leftover_rules() == []
    assert _all_running(settings)


def _epoch_bumped(entry: dict[str, Any]) -> bool:
    """Whether the run's log duplicates are named as the producer's epoch bump."""
    return any(f.startswith("log_duplicates ") and "#4953" in f for f in entry["failures"])


def _stalls(entry: dict[str, Any]) -> tuple[bool, set[str]]:
    """Which clients of a failed run stalled: the producer, and the groups.

    A client that stopped counts as stalled only if its own log shows the
    stall's signature; otherwise its missing acks or messages are a failure
    like any other and the run is not repeated.
    """
    producer = any(f.startswith("producer client stalled") for f in entry["failures"])
    groups = {
        m.group(1)
        for f in entry["failures"]
        if (m := re.match(r"consumer client stalled: group (\S+) ", f))
    }
    for group in groups:
        group_log = entry["consumer_warnings"].get(group, [])
        assert any(LEADER_LOST_SIGNATURE in line for line in group_log), (group, group_log)
    assert producer or groups or _epoch_bumped(entry), entry["failures"]
    return producer, groups


def _assert_verdict(
    entry: dict[str, Any],
    name: str,
    shape: str,
    settings: Settings,
    producer_stalled: bool = False,
    stalled_groups: Collection[str] = (),
    epoch_bumped: bool = False,
) -> None:
    """The whole verdict of one run, except the one count each client bug
    explains: the producer's acked fraction, a stalled group's missing, the log
    duplicates after an epoch bump."""
    unexplained = [
        f
        for f in entry["failures"]
        if not (
            "client stalled" in f
            or (producer_stalled and f.startswith(f"acked {entry['acked']} of {entry['sent']} "))
            or any(f.startswith(f"group {g} missing ") for g in stalled_groups)
            # A group that stopped cannot commit the end of the log either.
            or (stalled_groups and f.startswith("a consumer group did not commit"))
            or (epoch_bumped and f.startswith("log_duplicates ") and "librdkafka#4953" in f)
        )
    ]
    assert unexplained == [], entry["failures"]
    assert entry["cluster"] == shape
    # The counts the verdict rests on are real: messages flowed and were checked.
    assert entry["sent"] > 100
    if not producer_stalled:
        assert entry["acked"] >= entry["sent"] * 0.5
    # Every anomaly class of the log: nothing lost, duplicated, reordered,
    # failed-but-visible, at an offset other than its ack's, foreign or removed.
    judged = [c for c in LOG_ANOMALIES if not (c == "log_duplicates" and epoch_bumped)]
    assert {c: entry[c] for c in judged} == dict.fromkeys(judged, 0)
    assert entry["log_start_offsets"] == {}
    assert set(entry["groups"]) == set(SCENARIOS[name].groups)
    for group, g in entry["groups"].items():
        counts = [c for c in GROUP_ANOMALIES if not (c == "missing" and group in stalled_groups)]
        assert {c: g[c] for c in counts} == dict.fromkeys(counts, 0), (group, g)
        assert g["redeliveries"] <= entry["bounds"]["redeliveries_per_group"][group], (group, g)
        if group not in stalled_groups:
            assert g["delivered"] >= entry["acked"], (group, g)
    assert entry["faults"] and all(f["rolled_back"] for f in entry["faults"])
    assert entry["left_broken"] == []
    # Each fault showed its effect on the cluster under test, with traffic flowing.
    for fault in entry["faults"]:
        assert fault["observed_effect"] and fault["observed_effect"]["what"], fault
        assert fault["traffic"]["sent_during_fault"] > 0, fault
        assert all(n > 0 for n in fault["traffic"]["consumed_before_fault"].values()), fault
        assert fault["started_at"] < fault["ended_at"], fault
    assert entry["bootstrap_servers"] == settings.bootstrap_servers
    assert len(entry["cluster_id"]) == 22


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
