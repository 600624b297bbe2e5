"""The faults of the ``connector-restart`` scenario: what they hit, how they
are applied and undone, and how their effect is watched.

- ``kill``: the Connect worker (`connect_worker`: the local stack's process,
  or the named container chaos_targets allows) killed and started again;
- ``graceful``: Connect's own restart of the connector through the REST API;
- a mutation (`MUTATIONS`): the connector stopped, an unsafe step taken
  (stored offsets deleted, or the replication slot dropped), then resumed.

Each goes through `chaos.faults.FaultRunner` (`apply_fault`), so it is undone
on any exit and the undo verified: the worker answers and the connector and
every task are RUNNING again (`running_again`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from cdc import connect, pipeline, postgres
from cdc.config import CdcConfig
from cdc.errors import CdcError
from chaos.docker_backend import docker_target
from chaos.errors import ChaosError
from chaos.evidence import ConnectEffect
from chaos.faults import FaultRecord, FaultRunner
from chaos.targets import ProcessTarget, Target
from kafkaval.config import Settings
from kafkaval.errors import UsageError
from kafkaval.waiting import wait_until

MUTATIONS = ("delete-offsets", "drop-slot")
# No fault of this scenario is held: the kill and the restart are undone at
# once, a mutation waits at most 30 s for the replication slot to go idle.
MAX_FAULT_S = 60.0
# The undo's bound: the worker answering again, then the connector RUNNING.
RESTORE_TIMEOUT_S = pipeline.CONNECT_START_TIMEOUT + pipeline.CONNECTOR_START_TIMEOUT
# Connect acts on a restart request through its config topic and reports the
# restart through its status topic, both read back asynchronously: on a busy
# host its status says RUNNING (the state before the restart) for seconds.
RESTART_SEEN_TIMEOUT_S = 30.0


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
            # Until the status leaves RUNNING, a RUNNING read is the state before
            # the restart: the undo's check would pass on it before the restart began.
            if not wait_until(self._restart_seen, RESTART_SEEN_TIMEOUT_S, 0.1):
                raise CdcError(
                    f"Connect accepted the restart of {self.name}, but its status stayed "
                    f"RUNNING for {RESTART_SEEN_TIMEOUT_S:g} s; {_log_hint(self.worker)}"
                )
            return
        self._stop_requested = True
        self.client.stop(self.name)
        connect.wait_stopped(self.client, self.name, timeout)

    def _restart_seen(self) -> bool:
        """Connect's status answered and is not all RUNNING (no answer is no evidence)."""
        try:
            status = self.client.status(self.name)
        except CdcError:
            return False
        return not running_again(True, status)

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
    """A phase's effect: the worker stopped answering, or a task left RUNNING."""
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

    Its effect (the worker silent, or a task out of RUNNING) is watched from
    just before the fault until RUNNING again (``observed_effect``).
    """
    target: _PipelinePart
    effect = _connect_effect(worker, cfg)
    if phase == "kill":
        target = ConnectWorker(worker, cfg)
        with faults.active("kill", target, MAX_FAULT_S, effect) as record:
            pass  # started again at once
    else:
        target = Connector(worker, cfg, held=phase != "graceful")
        with faults.active("restart", target, MAX_FAULT_S, effect) as record:
            if phase != "graceful":
                _mutate(cfg, phase)
    return record, target


@contextlib.contextmanager
def worker_kept_running(worker: Target) -> Iterator[list[str]]:
    """Start ``worker`` again on leaving the block if it is down, whatever happened inside.

    Yields a list that, after a normal exit, names the worker if it is down
    and could not be started: the run record must still be written, and say
    so. On an exception the failed start is added to that exception as a note,
    so the run's own error stays the one raised.
    """
    left_down: list[str] = []
    try:
        yield left_down
    except BaseException as e:
        problem = _start_if_down(worker)
        if problem:
            e.add_note(problem)
        raise
    problem = _start_if_down(worker)
    if problem:
        left_down.append(problem)


def _start_if_down(worker: Target) -> str | None:
    if worker.is_running():
        return None
    try:
        worker.start()
    except Exception as e:  # any failure leaves it down; the caller reports it
        return f"Connect worker {worker.name} is down and could not be started: {e}"
    return None


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
