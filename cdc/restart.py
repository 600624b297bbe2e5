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
undo fails that check stops the run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from cdc import connect, pipeline, postgres
from cdc.change_checker import check_changes
from cdc.changes import ChangeDriver, ChangeMix, Ledger, run_in_thread
from cdc.config import CdcConfig
from cdc.errors import CdcError
from cdc.events import end_offsets, read_events
from cdc.live import LiveReader, ensure_topics
from cdc.metrics import CdcMetrics, serving
from chaos.docker_backend import docker_target
from chaos.errors import ChaosError
from chaos.evidence import NO_EFFECT, ConnectEffect
from chaos.faults import FaultRecord, FaultRunner
from chaos.targets import ProcessTarget, Target
from kafkaval.config import Settings
from kafkaval.environment import run_environment
from kafkaval.errors import UsageError
from kafkaval.records import (
    iso,
    merge_scenario,
    new_run_id,
    record_header,
    save_run_record,
    utc_now,
)
from kafkaval.waiting import wait_until

MUTATIONS = ("delete-offsets", "drop-slot")
# Time a change may take from commit to an acked event before its offset can
# be flushed; added to the flush interval in the crash bound.
LAG_SLACK_S = 2.0
# No fault of this scenario is held: the kill and the restart are undone at
# once, a mutation waits at most 30 s for the replication slot to go idle.
MAX_FAULT_S = 60.0
# The undo's bound: the worker answering again, then the connector RUNNING.
RESTORE_TIMEOUT_S = pipeline.CONNECT_START_TIMEOUT + pipeline.CONNECTOR_START_TIMEOUT


SCENARIO = "connector-restart"


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


class _NeverPartitioned:
    """The partitioner of the local worker: this scenario never cuts its network,
    so there is nothing to heal (and no iptables, no root needed to start it again)."""

    def heal(self, _pid: int | None) -> None:
        pass

    def active_rules(self) -> list[str]:
        return []


def connect_worker(settings: Settings, cfg: CdcConfig) -> Target:
    """The Connect worker the ``kill`` phase hits: the named container, else our process.

    Raises:
        UsageError: attach mode without a container to kill, or a container
            that chaos_targets does not allow (nothing is touched then).
        CdcError: the local worker or the container is not running.
        ChaosError: the Docker engine is unreachable or has no such container.
    """
    if cfg.connect_container:
        client = connect.ConnectClient(cfg.rest_url)
        worker: Target = docker_target(settings, cfg.connect_container, health=client.reachable)
        if not worker.is_running():
            raise CdcError(
                f"Connect container {cfg.connect_container} is not running: start it "
                "(docker compose --profile cdc up -d)"
            )
        return worker
    if cfg.attach:
        raise UsageError(
            "connector-restart kills the Connect worker: for an attached connect_url name its "
            "container (--connect-container, allowed by chaos_targets), or run the local one "
            "(kafkaval cdc up)"
        )
    proc = pipeline.managed(settings, connect.PROCESS_NAME)
    if proc is None:
        raise CdcError("the local Connect worker is not running: run `kafkaval cdc up` first")
    return ProcessTarget(proc, partitioner=_NeverPartitioned())


def _log_hint(worker: Target) -> str:
    if isinstance(worker, ProcessTarget):
        return f"read {worker.process.log}"
    return f"read `docker logs {worker.name}`"


class _PipelinePart(Target):
    """A part of the CDC pipeline as a `FaultRunner` target.

    Restored means the worker answers and the connector and every task are
    RUNNING again. ``fault_mono`` is when the fault was applied and
    ``recovered_mono`` when the pipeline ran again (monotonic): the phase's
    recovery time.
    """

    kind = "connect"

    def __init__(self, name: str, worker: Target, cfg: CdcConfig) -> None:
        self.name = name
        self.worker = worker
        self.cfg = cfg
        self.client = connect.ConnectClient(cfg.rest_url)
        self.fault_mono = 0.0
        self.recovered_mono = 0.0

    def _unsupported(self, action: str) -> ChaosError:
        return ChaosError(f"connector-restart does not {action} {self.name}")

    def pause(self) -> None:
        raise self._unsupported("pause")

    def partition(self) -> None:
        raise self._unsupported("partition")

    def resume(self) -> None:
        self.worker.resume()

    def heal(self) -> None:
        self.worker.heal()

    def is_paused(self) -> bool:
        return self.worker.is_paused()

    def is_partitioned(self) -> bool:
        return self.worker.is_partitioned()

    def is_healthy(self) -> bool:
        """Ask the worker itself whether the pipeline runs."""
        try:
            status = self.client.status(self.cfg.connector_name)
        except CdcError:
            return False
        return running_again(self.worker.is_running(), status)

    def wait_healthy(
        self,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
        stable: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> bool:
        """Wait until the worker answers, then until the connector runs (``stable`` unused:
        RUNNING is reported by Connect itself, not probed from outside).

        Raises:
            CdcError: the worker does not answer, a task FAILED, or not RUNNING in time.
        """
        began = clock()
        answer_within = min(timeout, pipeline.CONNECT_START_TIMEOUT)
        if not wait_until(self.client.reachable, answer_within, 0.5, clock=clock, sleep=sleep):
            raise CdcError(
                f"Connect worker {self.worker.name} did not come back after the fault; "
                f"{_log_hint(self.worker)}"
            )
        remaining = max(timeout - (clock() - began), 0.0)
        connect.wait_running(
            self.client, self.cfg.connector_name, remaining, clock=clock, sleep=sleep
        )
        self.recovered_mono = clock()
        return True

    def verify_restored(self) -> list[str]:
        if self.is_healthy():
            return []
        return [f"{self.name}: the worker, connector or a task was not RUNNING after the undo"]


class ConnectWorker(_PipelinePart):
    """The Connect worker, killed (or stopped) and started as ``worker`` is."""

    def __init__(self, worker: Target, cfg: CdcConfig) -> None:
        super().__init__(worker.name, worker, cfg)

    def kill(self) -> None:
        self.fault_mono = time.monotonic()
        self.worker.kill()

    def stop(self, timeout: float = 30.0) -> None:
        self.fault_mono = time.monotonic()
        self.worker.stop(timeout)

    def start(self) -> None:
        self.worker.start()

    def is_running(self) -> bool:
        return self.worker.is_running()


class Connector(_PipelinePart):
    """The connector, stopped through the REST API.

    Args:
        held: True: ``stop`` leaves it STOPPED until ``start`` resumes it (the
            mutations' window); False: ``stop`` is Connect's graceful restart,
            which stops it (committing offsets) and starts it again itself.
    """

    def __init__(self, worker: Target, cfg: CdcConfig, held: bool) -> None:
        super().__init__(cfg.connector_name, worker, cfg)
        self.held = held
        self._stop_requested = False

    def kill(self) -> None:
        raise self._unsupported("kill")

    def stop(self, timeout: float = 30.0) -> None:
        self.fault_mono = time.monotonic()
        if not self.held:
            self.client.restart(self.name)
            return
        self._stop_requested = True
        self.client.stop(self.name)
        connect.wait_stopped(self.client, self.name, timeout)

    def _state(self) -> str | None:
        try:
            return (self.client.status(self.name).get("connector") or {}).get("state")
        except CdcError:
            return None

    def start(self) -> None:
        """Resume it if this target stopped it or it is found stopped or paused;
        a connector in its own restart is left to it."""
        if self._stop_requested or self._state() in ("STOPPED", "PAUSED"):
            self.client.resume(self.name)

    def is_running(self) -> bool:
        return self._state() == "RUNNING"


def _connect_effect(worker: Target, cfg: CdcConfig) -> ConnectEffect:
    """The kill's effect: the worker stopped answering, or a task left RUNNING."""
    client = connect.ConnectClient(cfg.rest_url)
    return ConnectEffect(
        worker.name,
        client.reachable,
        lambda: [t.get("state", "") for t in client.status(cfg.connector_name).get("tasks", [])],
        interval=0.2,
    )


def apply_fault(
    faults: FaultRunner, phase: str, worker: Target, cfg: CdcConfig
) -> tuple[FaultRecord, _PipelinePart]:
    """The phase's fault through ``faults``: applied, undone at once (a mutation
    after its unsafe step), the undo verified (``rolled_back``).

    The kill's effect is watched from just before the kill until RUNNING
    again (``observed_effect``).
    """
    target: _PipelinePart
    if phase == "kill":
        target = ConnectWorker(worker, cfg)
        with faults.active("kill", target, MAX_FAULT_S, _connect_effect(worker, cfg)) as record:
            pass  # started again at once
    else:
        target = Connector(worker, cfg, held=phase != "graceful")
        with faults.active("restart", target, MAX_FAULT_S) as record:
            if phase != "graceful":
                _mutate(cfg, phase)
    return record, target


def running_again(worker_running: bool, status: dict[str, Any]) -> bool:
    """Whether a fault is undone: the worker is up, the connector and every task RUNNING."""
    tasks = status.get("tasks") or []
    return (
        worker_running
        and (status.get("connector") or {}).get("state") == "RUNNING"
        and bool(tasks)
        and all(t.get("state") == "RUNNING" for t in tasks)
    )


def _mutate(cfg: CdcConfig, mutation: str) -> None:
    """The unsafe step, while the connector is stopped."""
    if mutation == "delete-offsets":
        connect.ConnectClient(cfg.rest_url).delete_offsets(cfg.connector_name)
        return
    if not wait_until(lambda: not postgres.slot_state(cfg)[1], 30.0, 0.5):
        raise CdcError(f"replication slot {cfg.slot_name} still active after stop")
    postgres.drop_slot(cfg)


def run_connector_restart(
    settings: Settings, cfg: CdcConfig, params: RestartParams, metrics: CdcMetrics | None = None
) -> dict[str, Any]:
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
) -> dict[str, Any]:
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
    phases: dict[str, dict[str, Any]] = {}
    flush_s = cfg.offset_flush_interval_ms / 1000
    # A live consumer during both phases: end-to-end latency (commit time in
    # the database -> consumed here) as a consumer of the pipeline sees it,
    # stalls during the faults included. The exact check reads again after.
    live = LiveReader(
        settings, cfg.topics, start, params.phase_seconds * 2 + 180, metrics, SCENARIO
    )
    live.start()
    faults = FaultRunner(restore_timeout=RESTORE_TIMEOUT_S, effect_timeout=0.0)
    try:
        for phase in ("kill", second):
            max_changes = int(params.rate * params.phase_seconds) + 1
            thread = run_in_thread(driver, params.rate, max_changes, params.phase_seconds, phase)
            time.sleep(params.phase_seconds * params.fault_at)  # changes flow before the fault
            fault, target = apply_fault(faults, phase, worker, cfg)
            # Not recovered: no recovery time (None, never a made-up one).
            recovered = target.recovered_mono >= target.fault_mono > 0
            recovery_seconds = target.recovered_mono - target.fault_mono if recovered else None
            thread.join(params.phase_seconds + 60)
            if driver.error:
                raise CdcError(f"change driver stopped: {driver.error}")
            t_fault = target.fault_mono
            # Wall-clock ends of the fault for the report's timeline (from monotonic offsets).
            fault_start = utc_now() - timedelta(seconds=time.monotonic() - t_fault)
            bound = (
                ledger.committed_between(t_fault - flush_s - LAG_SLACK_S, t_fault, phase)
                if phase == "kill"
                else 0
            )
            phases[phase] = {
                "changes": sum(1 for c in ledger.changes() if c.phase == phase),
                "recovery_seconds": (
                    round(recovery_seconds, 3) if recovery_seconds is not None else None
                ),
                "duplicate_bound": bound,
                "fault": {
                    "kind": {"kill": "kill", "graceful": "restart"}.get(phase, phase),
                    "target": fault.target,
                    "started_at": iso(fault_start),
                    "ended_at": iso(fault_start + timedelta(seconds=recovery_seconds or 0.0)),
                    "rolled_back": fault.rolled_back,  # the runner's check right after the undo
                },
            }
            if phase == "kill":
                phases[phase]["fault"]["observed_effect"] = fault.observed_effect
            if not fault.rolled_back:
                phases[phase]["fault"]["problems"] = list(fault.problems)
                # The pipeline is not back: no further fault on it. The check still runs and
                # the record (failed) is written, so no older entry stands in for this run.
                break
    finally:
        driver.stop()
        live.stop()
        # Never leave the pipeline without its worker, whatever happened above.
        if not worker.is_running():
            worker.start()

    keys = {c.key for c in ledger.changes()}

    def all_seen(events: list[Any]) -> bool:
        return keys <= {e.key for e in events}

    t_read = time.monotonic()
    events, tombstones, caught_up = read_events(
        settings, cfg.topics, params.catch_up_timeout, start=start, done=all_seen
    )
    catch_up_seconds = time.monotonic() - t_read
    bounds = {p: v["duplicate_bound"] for p, v in phases.items()}
    result = check_changes(ledger.changes(), events, bounds)
    for phase, info in phases.items():
        info["duplicates"] = result.duplicates_by_phase.get(phase, 0)
    # A kill the pipeline never showed proves nothing about its recovery.
    no_effect = [
        f"{p} of {v['fault']['target']}: {NO_EFFECT}"
        for p, v in phases.items()
        if "observed_effect" in v["fault"] and not v["fault"]["observed_effect"]
    ]
    not_undone = [
        f"{p} of {v['fault']['target']}: not rolled back ({'; '.join(v['fault']['problems'])})"
        for p, v in phases.items()
        if not v["fault"]["rolled_back"]
    ]
    lags = sorted(e.ts_ms - e.source_ts_ms for e in events if e.op != "r")
    record = {
        **record_header("cdc-delivery", run_id, started_at, environment=run_environment(settings)),
        "scenario": SCENARIO,
        "parameters": {
            "rate": params.rate,
            "phase_seconds": params.phase_seconds,
            "mix": dataclasses.asdict(params.mix),
            "offset_flush_interval_ms": cfg.offset_flush_interval_ms,
            "lag_slack_seconds": LAG_SLACK_S,
            "mutation": params.mutation,
            "connector": cfg.connector_name,
            "topics": cfg.topics,
        },
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
            "e2e_latency_seconds": live.latency(),
        },
        "passed": result.passed and not no_effect and not not_undone,
    }
    failures = list(record["results"].get("failures", [])) + no_effect + not_undone
    record["results"]["failures"] = failures
    save_run_record(settings.results_dir, record)
    merge_scenario(settings.results_dir, "connector-restart", delivery_entry(settings, record))
    return record


def delivery_entry(settings: Settings, record: dict[str, Any]) -> dict[str, Any]:
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
