"""connector-restart when the undo of its fault fails: the run applies no further
fault, and its record is still written, failed, naming what is left broken.

Driven through `run_connector_restart` with fakes only at the boundary: the
Connect worker (its start raises), Connect's REST API, PostgreSQL (the change
driver), Kafka (topics, offsets, the read back) and the machine's environment.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cdc import connect, live, pipeline, postgres, restart, restart_faults
from cdc.changes import Change, Ledger
from cdc.config import CdcConfig, load_cdc_config
from cdc.errors import CdcError
from cdc.events import ChangeEvent
from cdc.restart import RestartParams, run_connector_restart
from chaos.errors import ChaosError
from kafkaval.config import Settings, load_settings

START_FAILED = "docker start connect-container: network cdc_default not found"


class _Worker:
    """The Connect worker's container: killed, then every start fails."""

    name = "connect-container"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.up = True

    def kill(self) -> None:
        self.calls.append("kill")
        self.up = False

    def start(self) -> None:
        self.calls.append("start")
        raise ChaosError(START_FAILED)

    def is_running(self) -> bool:
        return self.up


class _Rest:
    """Connect's REST API: answers only while the worker runs; records what it was asked."""

    worker: _Worker
    calls: list[str]

    def __init__(self, url: str) -> None:
        self.url = url

    def reachable(self) -> bool:
        return self.worker.up

    def status(self, name: str) -> dict[str, Any]:
        if not self.worker.up:
            raise CdcError(f"Kafka Connect at {self.url} is not reachable")
        return {"connector": {"state": "RUNNING"}, "tasks": [{"id": 0, "state": "RUNNING"}]}

    def restart(self, name: str) -> None:
        self.calls.append("restart")

    def stop(self, name: str) -> None:
        self.calls.append("stop")

    def resume(self, name: str) -> None:
        self.calls.append("resume")


class _Effect:
    """The kill's effect probe: the kill showed (the worker stopped answering)."""

    def __init__(self, *_a: Any, **_kw: Any) -> None:
        pass

    def start(self) -> None:
        pass

    def finish(self, timeout: float) -> dict[str, Any]:
        return {"what": "Connect worker stopped answering", "when": "t", "how": "fake"}


class _Driver:
    """PostgreSQL's side: each phase commits two changes into the ledger."""

    def __init__(self, cfg: CdcConfig, ledger: Ledger, mix: Any = None) -> None:
        self.ledger = ledger
        self.error: str | None = None
        self.phases: list[str] = []

    def load_live_ids(self, conn: Any) -> None:
        pass

    def run(self, rate: float, max_changes: int, max_seconds: float, phase: str = "") -> int:
        self.phases.append(phase)
        for i in range(2):
            pk = len(self.ledger) + 1
            self.ledger.add(Change("videos", pk, "c", 1, 100 + pk, 1000, 1.0 + i, phase))
        return 2

    def stop(self) -> None:
        pass


def _event(c: Change, offset: int) -> ChangeEvent:
    return ChangeEvent(
        "dbserver.public.videos", 0, offset, c.table, c.pk, c.op, c.version, c.txid,
        c.committed_at_ms, c.committed_at_ms + 5, "false", c.committed_at_ms + 9,
    )  # fmt: skip


@pytest.fixture
def boundary(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[Settings, _Worker, type[_Rest], list[_Driver]]]:
    worker = _Worker()
    # Connect's client is built from a URL inside the run: this one knows the worker.
    rest = type("Rest", (_Rest,), {"worker": worker, "calls": []})
    drivers: list[_Driver] = []

    def driver(*a: Any) -> _Driver:
        drivers.append(_Driver(*a))
        return drivers[-1]

    def read_back(*_a: Any, **_kw: Any) -> tuple[list[ChangeEvent], int, bool]:
        # Every committed change arrived once: the fault is the only thing wrong.
        changes = drivers[0].ledger.changes() if drivers else []
        return [_event(c, i) for i, c in enumerate(changes)], 0, True

    def nothing(*_a: Any, **_kw: Any) -> None:
        return None

    def serving(*_a: Any) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()

    monkeypatch.setattr(connect, "ConnectClient", rest)
    monkeypatch.setattr(restart, "connect_worker", lambda *_a: worker)
    monkeypatch.setattr(restart_faults, "ConnectEffect", _Effect)
    # The undo's verification gives up at once: the worker never answers again.
    monkeypatch.setattr(restart, "RESTORE_TIMEOUT_S", 0.0)
    monkeypatch.setattr(restart, "ChangeDriver", driver)
    monkeypatch.setattr(postgres, "connect", lambda _cfg: contextlib.nullcontext())
    monkeypatch.setattr(pipeline, "require_kafka", nothing)
    monkeypatch.setattr(restart, "serving", serving)
    monkeypatch.setattr(restart, "ensure_topics", nothing)
    monkeypatch.setattr(restart, "end_offsets", lambda *_a: {})
    monkeypatch.setattr(restart, "read_events", read_back)
    monkeypatch.setattr(live, "read_events", read_back)
    monkeypatch.setattr(restart, "run_environment", lambda _s: {"stack_kind": "fake"})
    settings = load_settings(environ={}, overrides={"results_dir": str(tmp_path)})
    yield settings, worker, rest, drivers
    assert not [t for t in threading.enumerate() if t.name.startswith("cdc-")]


def test_a_failed_undo_stops_the_run_and_its_record_names_what_is_left_broken(
    boundary: tuple[Settings, _Worker, type[_Rest], list[_Driver]],
) -> None:
    settings, worker, rest, drivers = boundary
    params = RestartParams(rate=10, phase_seconds=5, fault_at=0.0, catch_up_timeout=1)

    record = run_connector_restart(settings, load_cdc_config(environ={}), params)

    # No further fault: the graceful phase never ran, Connect was asked nothing.
    assert rest.calls == []
    assert drivers[0].phases == ["kill"]
    r = record["results"]
    assert list(r["phases"]) == ["kill"]
    fault = r["phases"]["kill"]["fault"]
    assert fault["rolled_back"] is False
    assert any(START_FAILED in p for p in fault["problems"])
    # Failed for the fault alone: every committed change arrived.
    assert record["passed"] is False
    assert r["missing"] == 0 and r["committed"] == 2
    not_undone, left_down = r["failures"]
    assert not_undone.startswith("kill of connect-container: not rolled back (undo failed: ")
    assert START_FAILED in not_undone
    # The run tried once more to start the worker; it is named as left down.
    assert worker.calls == ["kill", "start", "start"]
    assert left_down == (
        f"Connect worker connect-container is down and could not be started: {START_FAILED}"
    )
    # Written: the run's own record and its entry in the latest delivery run.
    results = Path(settings.results_dir)
    saved = json.loads((results / "latest-cdc-delivery.json").read_text())
    assert saved["run_id"] == record["run_id"] and saved["passed"] is False
    assert saved["results"]["failures"] == r["failures"]
    entry = json.loads((results / "latest-delivery.json").read_text())["scenarios"][
        "connector-restart"
    ]
    assert entry["passed"] is False and entry["failures"] == r["failures"]
    assert [(f["kind"], f["rolled_back"]) for f in entry["faults"]] == [("kill", False)]


def test_a_run_that_fails_keeps_its_error_and_notes_the_worker_left_down() -> None:
    worker = _Worker()
    with pytest.raises(CdcError, match="change driver stopped") as e:
        with restart_faults.worker_kept_running(worker):  # type: ignore[arg-type]
            worker.kill()
            raise CdcError("change driver stopped: connection refused")
    assert worker.calls == ["kill", "start"]
    assert e.value.__notes__ == [
        f"Connect worker connect-container is down and could not be started: {START_FAILED}"
    ]
