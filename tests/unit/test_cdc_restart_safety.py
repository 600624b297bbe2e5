"""connector-restart's faults without services: which worker it hits, and every
fault undone when interrupted (the worker started again, the connector resumed)."""

from __future__ import annotations

from typing import Any

import pytest

from cdc import connect, restart
from cdc.config import load_cdc_config
from cdc.errors import CdcError
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
        restart.connect_worker(
            load_settings(environ={}), load_cdc_config(environ={}, overrides={"connect_url": "x"})
        )


class _Worker:
    name = "connect-container"

    def __init__(self, kill_error: BaseException | None = None) -> None:
        self.kill_error = kill_error
        self.calls: list[str] = []

    def kill(self) -> None:
        self.calls.append("kill")
        if self.kill_error is not None:
            raise self.kill_error

    def start(self) -> None:
        self.calls.append("start")


class _Watch:
    """The effect watch at the boundary: no Connect to ask here."""

    def __init__(self, *_a: Any, **_kw: Any) -> None:
        pass

    def start(self) -> None:
        pass

    def finish(self, timeout: float) -> None:
        return None


@pytest.mark.parametrize("error", [KeyboardInterrupt(), CdcError("survived SIGKILL")])
def test_the_worker_is_started_again_when_the_kill_is_interrupted(
    error: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restart, "ConnectEffect", _Watch)
    worker = _Worker(kill_error=error)
    with pytest.raises(type(error)):
        restart._kill_and_restart(worker, load_cdc_config(environ={}))  # type: ignore[arg-type]
    assert worker.calls == ["kill", "start"]


class _Connect:
    """A Connect REST client whose offsets reset is interrupted."""

    calls: list[str] = []

    def __init__(self, url: str) -> None:
        self.url = url

    def stop(self, name: str) -> None:
        self.calls.append("stop")

    def status(self, name: str) -> dict[str, Any]:
        return {"connector": {"state": "STOPPED"}}

    def delete_offsets(self, name: str) -> None:
        raise KeyboardInterrupt

    def resume(self, name: str) -> None:
        self.calls.append("resume")


def test_a_stopped_connector_is_resumed_when_the_mutation_is_interrupted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connect, "ConnectClient", _Connect)
    with pytest.raises(KeyboardInterrupt):
        restart._mutate(load_cdc_config(environ={}), "delete-offsets")
    assert _Connect.calls == ["stop", "resume"]
