"""What a run ran on: the record's environment and the report's fallback for records
without one name the stack the same way (fakes at the boundary: the local stack's
process list and the admin client)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kafkaval import environment
from kafkaval.config import Settings
from report.cli import fallback_environment
from stack import kafka, local


class _Admin:
    def list_topics(self, timeout: float) -> Any:
        return SimpleNamespace(brokers={1: object(), 2: object()})


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(environment, "admin_client", lambda _config: _Admin())
    s = Settings(state_dir=str(tmp_path / "state"), results_dir=str(tmp_path / "results"))
    return dataclasses.replace(s, bootstrap_servers=kafka.bootstrap_of(s))


@pytest.mark.parametrize(
    ("running", "kind"), [(True, "local (processes)"), (False, "external or compose")]
)
def test_record_and_report_fallback_name_the_stack_alike(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, running: bool, kind: str
) -> None:
    monkeypatch.setattr(local, "running", lambda _s: [object()] if running else [])
    env = environment.run_environment(settings)
    assert env["stack_kind"] == kind
    assert env["brokers"] == 2
    assert fallback_environment(settings)["stack_kind"] == kind


def test_a_running_local_stack_not_configured_is_not_the_stack_of_the_run(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "running", lambda _s: [object()])
    other = dataclasses.replace(settings, bootstrap_servers="kafka.example:9092")
    env = environment.run_environment(other)
    assert env["stack_kind"] == "external or compose"
    assert env["kafka_version"].startswith("unknown")
