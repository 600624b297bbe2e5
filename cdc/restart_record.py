"""The run record and verdict of the ``connector-restart`` scenario.

Per phase: how many changes it committed, how long the pipeline took to run
again, the duplicate bound and the fault as the runner recorded it. The
verdict is the change checker's (0 missing, 0 re-snapshotted, 0 reordered,
duplicates within each phase's bound), failed also by a kill that showed no
effect, by a fault not rolled back and by a worker left down. The record joins
``latest-delivery.json`` as a scenario entry (`delivery_entry`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from cdc.change_checker import check_changes
from cdc.changes import Ledger
from cdc.config import CdcConfig
from cdc.events import ChangeEvent
from chaos.evidence import NO_EFFECT
from chaos.faults import FaultRecord
from kafkaval.config import Settings
from kafkaval.record_types import (
    CdcDeliveryRecord,
    E2eLatency,
    RecordHeader,
    RestartParameters,
    RestartPhase,
    ScenarioEntry,
)
from kafkaval.records import iso, utc_now

SCENARIO = "connector-restart"
# Time a change may take from commit to an acked event before its offset can
# be flushed; added to the flush interval in the crash bound.
LAG_SLACK_S = 2.0


def phase_entry(
    phase: str,
    fault: FaultRecord,
    fault_mono: float,
    recovered_mono: float,
    ledger: Ledger,
    flush_s: float,
    now: Callable[[], datetime] = utc_now,
    clock: Callable[[], float] = time.monotonic,
) -> RestartPhase:
    """One phase of the record: its changes, recovery time, duplicate bound and fault.

    Args:
        phase: ``kill``, ``graceful`` or a mutation.
        fault: the runner's record of the phase's fault.
        fault_mono / recovered_mono: when the fault was applied and when the
            pipeline ran again (monotonic; 0 when it did not happen).
        ledger: every committed change, tagged with its phase.
        flush_s: the worker's offset flush interval, in seconds (the kill's bound).
        now / clock: the wall and monotonic clocks the fault's ends are placed with.
    """
    # Not recovered: no recovery time (None, never a made-up one).
    recovered = recovered_mono >= fault_mono > 0
    recovery_seconds = recovered_mono - fault_mono if recovered else None
    # Wall-clock ends of the fault for the report's timeline (from monotonic offsets).
    fault_start = now() - timedelta(seconds=clock() - fault_mono)
    bound = (
        ledger.committed_between(fault_mono - flush_s - LAG_SLACK_S, fault_mono, phase)
        if phase == "kill"
        else 0
    )
    entry: RestartPhase = {
        "changes": sum(1 for c in ledger.changes() if c.phase == phase),
        "recovery_seconds": round(recovery_seconds, 3) if recovery_seconds is not None else None,
        "duplicate_bound": bound,
        "fault": {
            "kind": {"kill": "kill", "graceful": "restart"}.get(phase, phase),
            "target": fault.target,
            "started_at": iso(fault_start),
            "ended_at": iso(fault_start + timedelta(seconds=recovery_seconds or 0.0)),
            "rolled_back": fault.rolled_back,  # the runner's check right after the undo
            "observed_effect": fault.observed_effect,
        },
    }
    if not fault.rolled_back:
        entry["fault"]["problems"] = list(fault.problems)
    return entry


def restart_record(
    cfg: CdcConfig,
    header: RecordHeader,
    parameters: RestartParameters,
    phases: dict[str, RestartPhase],
    ledger: Ledger,
    read: tuple[list[ChangeEvent], int, bool, float],
    e2e_latency: E2eLatency,
    left_down: Sequence[str] = (),
) -> CdcDeliveryRecord:
    """The run record: every committed change checked against the events read back.

    Args:
        header: from `kafkaval.records.record_header`.
        parameters: the run's parameters as recorded.
        phases: `phase_entry` per phase run; each gets its ``duplicates`` here.
        ledger: every committed change.
        read: the events read back, tombstones, whether reading caught up, and
            how long it took (seconds).
        e2e_latency: the live consumer's end-to-end latency summary.
        left_down: what the run leaves down besides its faults' records (the
            worker not started again); each fails the run.
    """
    events, tombstones, caught_up, catch_up_seconds = read
    bounds = {p: v["duplicate_bound"] for p, v in phases.items()}
    result = check_changes(ledger.changes(), events, bounds)
    for phase, info in phases.items():
        info["duplicates"] = result.duplicates_by_phase.get(phase, 0)
    # A fault the pipeline never showed proves nothing about its recovery.
    no_effect = [
        f"{p} of {v['fault']['target']}: {NO_EFFECT}"
        for p, v in phases.items()
        if not v["fault"].get("observed_effect")
    ]
    not_undone = [
        f"{p} of {v['fault']['target']}: not rolled back ({'; '.join(v['fault']['problems'])})"
        for p, v in phases.items()
        if not v["fault"]["rolled_back"]
    ]
    lags = sorted(e.ts_ms - e.source_ts_ms for e in events if e.op != "r")
    record: CdcDeliveryRecord = {
        **header,
        "scenario": SCENARIO,
        "parameters": parameters,
        "bound_rule": (
            "kill: duplicates <= changes committed within offset.flush.interval.ms "
            f"({cfg.offset_flush_interval_ms} ms) + {LAG_SLACK_S:.0f} s before the kill; "
            "graceful: 0 duplicates; always 0 missing, 0 re-snapshotted and 0 reordered "
            "(a row's version never goes backwards after dropping second copies)"
        ),
        "results": {
            **result.as_dict(),
            "phases": phases,
            "events_read": len(events),
            "tombstones": tombstones,
            "indeterminate": ledger.indeterminate,
            "caught_up": caught_up,
            "catch_up_seconds": round(catch_up_seconds, 3),
            "connector_lag_ms_p50": lags[len(lags) // 2] if lags else None,
            "connector_lag_ms_max": lags[-1] if lags else None,
            "e2e_latency_seconds": e2e_latency,
        },
        "passed": result.passed and not no_effect and not not_undone and not left_down,
    }
    failures = (
        list(record["results"].get("failures", [])) + no_effect + not_undone + list(left_down)
    )
    record["results"]["failures"] = failures
    return record


def delivery_entry(settings: Settings, record: CdcDeliveryRecord) -> ScenarioEntry:
    """The run as a scenario entry of ``latest-delivery.json`` (the reports read that).

    Changes map onto the delivery counts: a committed change is an acked send,
    a missing change a lost one, a second copy a log duplicate, a row whose
    version went backwards a reordered one. Failed sends, redeliveries to
    consumer groups and failed-but-visible writes are not measured here: None
    (shown as not measured), never 0. The bounds are the ones the checker
    applied (0 missing, 0 reordered, duplicates per phase).
    """
    r = record["results"]
    phases = r["phases"]
    return {
        "passed": record["passed"],
        "cluster": "3-broker" if settings.brokers >= 3 else "single",
        "started_at": record["started_at"],
        "ended_at": record["ended_at"],
        "source": "database ledger (cdc-delivery run " + record["run_id"] + ")",
        # The totals the CDC run published to Prometheus (report cross-check).
        "prometheus_totals": {"acked": "cdc_committed"},
        "sent": r["committed"],
        "acked": r["committed"],
        "failed": None,
        "indeterminate": r["indeterminate"],
        "lost": r["missing"],
        "log_duplicates": r["duplicates"],
        "redeliveries": None,
        "reordered": r.get("reordered"),
        "failed_visible": None,
        "resnapshotted": r["resnapshotted"],
        "groups": {},
        "bounds": {
            "lost": 0,
            "reordered": 0,
            "log_duplicates": sum(p["duplicate_bound"] or 0 for p in phases.values()),
        },
        "bound_rule": record["bound_rule"],
        "failures": r["failures"],
        "faults": [p["fault"] for p in phases.values() if "fault" in p],
    }
