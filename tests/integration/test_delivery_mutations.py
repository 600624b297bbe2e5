"""The harness must FAIL on deliberately unsafe setups (a checker that always passes is useless)."""

from __future__ import annotations

import pytest

from chaos.catalog import Fault, Scenario
from chaos.scenarios import Timing, Unsafe
from chaos.suite import run_suite
from kafkaval.config import Settings

pytestmark = pytest.mark.integration


def test_consumer_that_skips_before_commit_is_caught(stack_settings: Settings) -> None:
    record = run_suite(
        stack_settings, ["consumer-restart"], ["single"], quick=True,
        shape_overrides={"single": stack_settings}, unsafe=Unsafe(consumer_skip_every=50),
    )  # fmt: skip
    entry = record["scenarios"]["consumer-restart"]
    assert not entry["passed"] and not record["passed"]
    g1 = entry["groups"]["g1"]
    # Every 50th record read was committed unrecorded: at least acked/50 minus the
    # ones redelivered after the restarts (then recorded) are missing.
    assert g1["missing"] > 0 and g1["missing_ids"]
    assert any("group g1 missing" in f for f in entry["failures"])
    assert entry["lost"] == 0  # the log itself is complete: only the group lost them


def test_acks_0_with_broker_kill_reports_loss(stack_settings: Settings) -> None:
    # A higher rate keeps produce requests in flight when the broker dies.
    timing = Timing(rate=3000.0, warmup=3.0, gap=2.0, down=1.0, partition=8.0,
                    max_seconds=60.0, settle=60.0)  # fmt: skip
    record = run_suite(
        stack_settings, ["broker-restart"], ["single"], quick=True,
        shape_overrides={"single": stack_settings}, timing=timing,
        unsafe=Unsafe(producer={"acks": "0", "enable.idempotence": "false"}),
    )  # fmt: skip
    entry = record["scenarios"]["broker-restart"]
    assert not entry["passed"]
    assert entry["lost"] > 0 and entry["lost_ids"]
    assert any(f.startswith("lost ") for f in entry["failures"])


def test_consumer_that_seeks_past_records_is_reported_as_poll_skip(
    stack_settings: Settings,
) -> None:
    record = run_suite(
        stack_settings, ["consumer-restart"], ["single"], quick=True,
        shape_overrides={"single": stack_settings}, unsafe=Unsafe(consumer_seek_past=5),
    )  # fmt: skip
    entry = record["scenarios"]["consumer-restart"]
    assert not entry["passed"] and not record["passed"]
    g1 = entry["groups"]["g1"]
    # Each seek jumped 5 records the log held, within one assignment.
    assert g1["poll_skip"] >= 5 and g1["poll_skip_ids"], entry["failures"]
    assert any(f.startswith("group g1 poll_skip ") for f in entry["failures"])
    # What the group read still sits where the log has it, in order: only skips.
    assert g1["inconsistent_offsets"] == 0 and g1["nonmonotonic_poll"] == 0
    # Skipped and committed records are missing, unless a kill made them come again.
    assert g1["missing"] <= g1["poll_skip"]
    assert entry["lost"] == 0 and entry["inconsistent_offsets"] == 0  # the log is intact


def test_producer_that_calls_acked_sends_failed_is_reported_as_failed_visible(
    stack_settings: Settings,
) -> None:
    record = run_suite(
        stack_settings, ["consumer-restart"], ["single"], quick=True,
        shape_overrides={"single": stack_settings}, unsafe=Unsafe(producer_fail_every=100),
    )  # fmt: skip
    entry = record["scenarios"]["consumer-restart"]
    assert not entry["passed"] and not record["passed"]
    # Every "failure" was a message the broker appended: all of them are in the log.
    assert entry["failed"] >= 10 and entry["failed_visible"] == entry["failed"], entry["failures"]
    assert entry["failed_visible_ids"] and any(
        f.startswith("failed_visible ") for f in entry["failures"]
    )
    # The groups read those records too: failed, yet not unseen.
    assert all(g["unseen"] == 0 and g["missing"] == 0 for g in entry["groups"].values())


# A broker that stops answering (SIGSTOP, as a long GC pause or a frozen VM)
# while produce requests are in flight. Not in the catalogue: with the
# idempotent producer of the real scenarios it shows nothing a broker restart
# does not; it is here to make a producer send a message twice.
PAUSE = Scenario(
    "broker-pause",
    "the broker stops answering mid-stream (SIGSTOP) for a bounded time, then resumes",
    ("g1",),
    (Fault("pause", "broker"),),
)


def test_producer_without_idempotence_that_resends_after_a_pause_is_reported_as_duplicates(
    stack_settings: Settings,
) -> None:
    # The client gives up on its in-flight requests after socket.timeout.ms
    # (2 s, well inside the 8 s pause), closes the connection and sends them
    # again once the broker answers. The paused broker still holds the first
    # copies in its socket and appends them on resume; without idempotence
    # nothing tells it the second copies are the same messages. Measured here:
    # 3 to 39 duplicates in each of 6 runs at 1000 msg/s.
    timing = Timing(rate=1000.0, warmup=3.0, gap=3.0, down=1.0, partition=8.0,
                    max_seconds=60.0, settle=60.0)  # fmt: skip
    record = run_suite(
        stack_settings, [PAUSE.name], ["single"], quick=True,
        shape_overrides={"single": stack_settings}, timing=timing,
        unsafe=Unsafe(producer={"enable.idempotence": "false", "socket.timeout.ms": "2000"}),
        catalog={PAUSE.name: PAUSE},
    )  # fmt: skip
    entry = record["scenarios"][PAUSE.name]
    assert not entry["passed"] and not record["passed"]
    assert entry["log_duplicates"] > 0 and entry["duplicate_ids"], entry["failures"]
    line = f"log_duplicates {entry['log_duplicates']} > 0 ("
    assert any(f.startswith(line) for f in entry["failures"]), entry["failures"]
    # The fault took effect and was undone; every copy is a message that was sent.
    (fault,) = entry["faults"]
    assert fault["kind"] == "pause" and fault["observed_effect"] and fault["rolled_back"]
    assert entry["lost"] == 0 and entry["foreign"] == 0 and entry["failed_visible"] == 0
