"""connector-restart's faults without services: which worker it hits, and every
fault undone through the FaultRunner, also when interrupted (the worker started
again, the connector resumed), with the undo verified."""

from __future__ import annotations

from typing import Any

import pytest

from cdc import connect, restart_faults
from cdc.config import load_cdc_config
from cdc.errors import CdcError
from chaos.faults import FaultRunner
from kafkaval.cli import main
from kafkaval.config import load_settings
from kafkaval.errors import UsageError


def test_a_named_container_means_attach_mode() -> None:
    cfg = load_cdc_config(environ={"KAFKAVAL_CDC_CONNECT_CONTAINER": "pipeline-connect-1"})
    assert cfg.attach and cfg.rest_url == "http://127.0.0.1:19083"


def test_attached_connect_without_a_container_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Refused before anything starts: no metrics endpoint, no Kafka, no Connect contacted.
    argv = ["cdc", "connector-restart", "--quick", "--connect-url", "http://127.0.0.1:1"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--connect-container" in err
    with pytest.raises(UsageError):
        restart_faults.connect_worker(
            load_settings(environ={}), load_cdc_config(environ={}, overrides={"connect_url": "x"})
        )


class _Worker:
    """The Connect worker at the boundary: a container or process to kill and start."""

    name = "connect-container"

    def __init__(self, kill_error: BaseException | None = None) -> None:
        self.kill_error = kill_error
        self.calls: list[str] = []
        self.up = True

    def kill(self) -> None:
        self.calls.append("kill")
        self.up = False
        if self.kill_error is not None:
            raise self.kill_error

    def start(self) -> None:
        self.calls.append("start")
        self.up = True

    def is_running(self) -> bool:
        return self.up


class _Watch:
    """The effect watch at the boundary: no Connect to ask here."""

    def __init__(self, *_a: Any, **_kw: Any) -> None:
        pass

    def start(self) -> None:
        pass

    def finish(self, timeout: float) -> None:
        return None


class _Connect:
    """Connect's REST API at the boundary: the connector and its task share one state."""

    calls: list[str] = []
    state = "RUNNING"
    # A restart shows RESTARTING to one status read (None: never), then this state.
    after_restart = "RUNNING"
    restarting_reads: int | None = 1
    fail_with: BaseException | None = None

    def __init__(self, url: str) -> None:
        self.url = url

    def reachable(self) -> bool:
        return True

    def status(self, name: str) -> dict[str, Any]:
        task = {"id": 0, "state": self.state, "trace": "boom"}
        if self.state == "RESTARTING" and self.restarting_reads is not None:
            _Connect.restarting_reads = self.restarting_reads - 1
            if self.restarting_reads <= 0:
                _Connect.state = self.after_restart
        return {"connector": {"state": self.state}, "tasks": [task]}

    def restart(self, name: str) -> None:
        self.calls.append("restart")
        # Connect's status still says RUNNING until the restart is read back
        # (restarting_reads None: never, as a lost restart request would).
        _Connect.state = "RESTARTING" if self.restarting_reads is not None else "RUNNING"

    def stop(self, name: str) -> None:
        self.calls.append("stop")
        _Connect.state = "STOPPED"

    def delete_offsets(self, name: str) -> None:
        self.calls.append("delete-offsets")
        if self.fail_with is not None:
            raise self.fail_with

    def resume(self, name: str) -> None:
        self.calls.append("resume")
        _Connect.state = "RUNNING"


@pytest.fixture
def rest(monkeypatch: pytest.MonkeyPatch) -> type[_Connect]:
    monkeypatch.setattr(_Connect, "calls", [])
    monkeypatch.setattr(_Connect, "state", "RUNNING")
    monkeypatch.setattr(_Connect, "restarting_reads", 1)
    monkeypatch.setattr(connect, "ConnectClient", _Connect)
    monkeypatch.setattr(restart_faults, "ConnectEffect", _Watch)
    return _Connect


def _runner() -> FaultRunner:
    return FaultRunner(restore_timeout=5.0, effect_timeout=0.0)


@pytest.mark.parametrize("error", [KeyboardInterrupt(), CdcError("survived SIGKILL")])
def test_the_worker_is_started_again_when_the_kill_is_interrupted(
    error: BaseException, rest: type[_Connect]
) -> None:
    worker = _Worker(kill_error=error)
    faults = _runner()
    with pytest.raises(type(error)):
        restart_faults.apply_fault(faults, "kill", worker, load_cdc_config(environ={}))  # type: ignore[arg-type]
    assert worker.calls == ["kill", "start"]
    (record,) = faults.records
    # The undo was verified: the worker runs, the connector and its task are RUNNING.
    assert (record.kind, record.target, record.rolled_back) == ("kill", worker.name, True)


def test_a_kill_is_undone_through_the_runner_and_its_recovery_timed(
    rest: type[_Connect],
) -> None:
    worker, cfg = _Worker(), load_cdc_config(environ={})
    record, target = restart_faults.apply_fault(_runner(), "kill", worker, cfg)  # type: ignore[arg-type]
    assert worker.calls == ["kill", "start"] and record.rolled_back and not record.problems
    assert 0 < target.fault_mono <= target.recovered_mono


def test_a_stopped_connector_is_resumed_when_the_mutation_is_interrupted(
    rest: type[_Connect], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Connect, "fail_with", KeyboardInterrupt())
    cfg = load_cdc_config(environ={})
    faults = _runner()
    with pytest.raises(KeyboardInterrupt):
        restart_faults.apply_fault(faults, "delete-offsets", _Worker(), cfg)  # type: ignore[arg-type]
    assert rest.calls == ["stop", "delete-offsets", "resume"]
    (record,) = faults.records
    assert (record.kind, record.target, record.rolled_back) == ("restart", cfg.connector_name, True)


def test_a_graceful_restart_is_left_to_connect_and_its_undo_verified(
    rest: type[_Connect], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = load_cdc_config(environ={})
    record, _ = restart_faults.apply_fault(_runner(), "graceful", _Worker(), cfg)  # type: ignore[arg-type]
    assert rest.calls == ["restart"]  # Connect starts it again itself: nothing to resume
    assert record.rolled_back
    # A task that FAILED in the restart: the undo is not verified, and the runner refuses more.
    monkeypatch.setattr(_Connect, "after_restart", "FAILED")
    monkeypatch.setattr(_Connect, "restarting_reads", 1)
    faults = _runner()
    record, _ = restart_faults.apply_fault(faults, "graceful", _Worker(), cfg)  # type: ignore[arg-type]
    assert not record.rolled_back and "FAILED" in record.problems[0]
    assert faults.left_broken


def test_a_restart_whose_status_never_leaves_running_is_not_taken_as_done(
    rest: type[_Connect], monkeypatch: pytest.MonkeyPatch
) -> None:
    # RUNNING right after the request is the state before the restart: the undo
    # must not be judged on it, and a restart never seen is an error, not a pass.
    monkeypatch.setattr(_Connect, "restarting_reads", None)
    monkeypatch.setattr(restart_faults, "RESTART_SEEN_TIMEOUT_S", 0.3)
    faults = _runner()
    with pytest.raises(CdcError, match="status stayed RUNNING for 0.3 s"):
        restart_faults.apply_fault(faults, "graceful", _Worker(), load_cdc_config(environ={}))  # type: ignore[arg-type]
    assert _Connect.calls == ["restart"]
