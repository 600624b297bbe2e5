"""The ``connector-restart`` delivery scenario: Debezium offset recovery.

Two phases, changes flowing through both at a fixed rate:

- ``kill``: SIGKILL of the Connect worker, then start it again: the local
  stack's process, or with ``connect_container`` set the container it runs in
  (``docker kill``, then ``docker start``; chaos_targets must allow it by name
  or label, as for every container fault). Events the
  connector sent after its last offset flush are sent again, so duplicates
  are allowed up to the changes committed within one flush interval (plus a
  lag slack for the time from commit to the producer's ack) before the kill.
- ``graceful``: a connector restart through the REST API; the task commits
  its offsets as it stops, so the bound is 0 duplicates.

Every committed change must appear at least once (0 missing) and no table
may be snapshotted again. ``mutation`` replaces the graceful restart by an
unsafe operation (stored offsets deleted, or the replication slot dropped,
while the connector is stopped); the checker must then fail.

Every fault goes through `chaos.faults.FaultRunner`, so it has a maximum
duration and is undone on any exit, Ctrl-C included (the worker started
again, a stopped connector resumed), and the undo is verified: the worker
answers and the connector and every task are RUNNING again. A fault whose
undo fails that check stops the run: no further fault, and the record is
still written, failed, naming what is left broken.

This module runs the phases; the faults are in `cdc.restart_faults`, the
record and verdict in `cdc.restart_record`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from cdc import connect, pipeline, postgres
from cdc.changes import ChangeDriver, ChangeMix, Ledger, run_in_thread
from cdc.config import CdcConfig
from cdc.errors import CdcError
from cdc.events import end_offsets, read_events
from cdc.live import LiveReader, ensure_topics
from cdc.metrics import CdcMetrics, serving
from cdc.restart_faults import (
    MUTATIONS,
    RESTORE_TIMEOUT_S,
    apply_fault,
    connect_worker,
    worker_kept_running,
)
from cdc.restart_record import (
    LAG_SLACK_S,
    SCENARIO,
    delivery_entry,
    phase_entry,
    restart_record,
)
from chaos.faults import FaultRunner
from chaos.targets import Target
from kafkaval.config import Settings
from kafkaval.environment import run_environment
from kafkaval.errors import UsageError
from kafkaval.record_types import CdcDeliveryRecord, RestartParameters, RestartPhase
from kafkaval.records import merge_scenario, new_run_id, record_header, save_run_record, utc_now


@dataclasses.dataclass(frozen=True)
class RestartParams:
    rate: float = 40.0  # changes per second
    phase_seconds: float = 20.0
    fault_at: float = 0.4  # share of a phase after which the fault hits
    mix: ChangeMix = dataclasses.field(default_factory=ChangeMix)
    catch_up_timeout: float = 90.0
    mutation: str | None = None

    def validate(self) -> None:
        if self.rate <= 0 or self.rate > 2000:
            raise UsageError(f"rate {self.rate} must be in (0, 2000] changes/s")
        if not 5 <= self.phase_seconds <= 3600:
            raise UsageError(f"phase duration {self.phase_seconds} s must be in [5, 3600]")
        if self.mutation is not None and self.mutation not in MUTATIONS:
            raise UsageError(f"unknown mutation {self.mutation!r}; known: {', '.join(MUTATIONS)}")

    def record_parameters(self, cfg: CdcConfig) -> RestartParameters:
        """The parameters as the run record states them."""
        return {
            "rate": self.rate,
            "phase_seconds": self.phase_seconds,
            "mix": self.mix.as_record(),
            "offset_flush_interval_ms": cfg.offset_flush_interval_ms,
            "lag_slack_seconds": LAG_SLACK_S,
            "mutation": self.mutation,
            "connector": cfg.connector_name,
            "topics": cfg.topics,
        }


def run_connector_restart(
    settings: Settings, cfg: CdcConfig, params: RestartParams, metrics: CdcMetrics | None = None
) -> CdcDeliveryRecord:
    """Run both phases, check every committed change, save the run record.

    Returns the run record (``passed`` says whether all bounds held). The
    run's counters and e2e histogram are served to Prometheus meanwhile.

    Raises:
        UsageError: bad parameters, attach mode without ``connect_container``,
            or a container chaos_targets does not allow (see `connect_worker`).
        CdcError: PostgreSQL, Connect or Kafka unreachable, the connector failed.
        ChaosError: the Docker engine failed to kill or start the container.
    """
    params.validate()
    worker = connect_worker(settings, cfg)  # refused before anything starts
    pipeline.require_kafka(settings)
    metrics = metrics or CdcMetrics()
    with serving(settings, metrics):
        return _run(settings, cfg, params, metrics, worker)


def _run(
    settings: Settings, cfg: CdcConfig, params: RestartParams, metrics: CdcMetrics, worker: Target
) -> CdcDeliveryRecord:
    client = connect.ConnectClient(cfg.rest_url)
    connect.wait_running(client, cfg.connector_name, 30.0)
    ensure_topics(settings, cfg)

    run_id = new_run_id()
    started_at = utc_now()
    start = end_offsets(settings, cfg.topics)
    ledger = Ledger(on_add=lambda _c: metrics.inc(SCENARIO, "changes_committed"))
    driver = ChangeDriver(cfg, ledger, params.mix)
    with postgres.connect(cfg) as conn:
        driver.load_live_ids(conn)

    second = params.mutation or "graceful"
    phases: dict[str, RestartPhase] = {}
    flush_s = cfg.offset_flush_interval_ms / 1000
    # A live consumer during both phases: end-to-end latency (commit time in
    # the database -> consumed here) as a consumer of the pipeline sees it,
    # stalls during the faults included. The exact check reads again after.
    live = LiveReader(
        settings, cfg.topics, start, params.phase_seconds * 2 + 180, metrics, SCENARIO
    )
    live.start()
    faults = FaultRunner(restore_timeout=RESTORE_TIMEOUT_S, effect_timeout=0.0)
    # Never leave the pipeline without its worker, whatever happened in the phases.
    with worker_kept_running(worker) as left_down:
        try:
            for phase in ("kill", second):
                max_changes = int(params.rate * params.phase_seconds) + 1
                thread = run_in_thread(
                    driver, params.rate, max_changes, params.phase_seconds, phase
                )
                # Changes flow before the fault.
                time.sleep(params.phase_seconds * params.fault_at)
                fault, target = apply_fault(faults, phase, worker, cfg)
                thread.join(params.phase_seconds + 60)
                if driver.error:
                    raise CdcError(f"change driver stopped: {driver.error}")
                phases[phase] = phase_entry(
                    phase, fault, target.fault_mono, target.recovered_mono, ledger, flush_s
                )
                if not fault.rolled_back:
                    # The pipeline is not back: no further fault on it. The check still
                    # runs and the record (failed) is written, so no older entry stands in
                    # for this run.
                    break
        finally:
            driver.stop()
            live.stop()

    keys = {c.key for c in ledger.changes()}

    def all_seen(events: list[Any]) -> bool:
        return keys <= {e.key for e in events}

    t_read = time.monotonic()
    events, tombstones, caught_up = read_events(
        settings, cfg.topics, params.catch_up_timeout, start=start, done=all_seen
    )
    catch_up_seconds = time.monotonic() - t_read
    header = record_header(
        "cdc-delivery", run_id, started_at, environment=run_environment(settings)
    )
    record = restart_record(
        cfg,
        header,
        params.record_parameters(cfg),
        phases,
        ledger,
        (events, tombstones, caught_up, catch_up_seconds),
        live.latency(),
        left_down,
    )
    save_run_record(settings.results_dir, record)
    merge_scenario(settings.results_dir, SCENARIO, delivery_entry(settings, record))
    return record
