"""A profile that raises still leaves a run record, failed with its reason.

Fakes stand in at the boundary: the broker preflight, the metrics endpoint, the
load itself (``run_load``) and the startup measurement; the suite, its checks
and the record writing are the real ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from loadgen import suite


@pytest.fixture
def fake_boundary(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fakes for everything that talks to a broker or binds a port; returns the
    profiles the suite tried to run."""
    tried: list[str] = []

    def run_load(_settings: Settings, spec: Any, *_a: Any, **_k: Any) -> dict[str, Any]:
        tried.append(spec.name)
        if spec.name == "throughput":
            raise KafkavalError("flush timed out with 12 messages in flight")
        raise RuntimeError("worker exploded")

    def measure_startup(_settings: Settings) -> dict[str, Any]:
        tried.append("startup")
        return {"startup_seconds": 1.5, "metadata_seconds": 1.0}

    @contextlib.contextmanager
    def endpoint(*_a: Any, **_k: Any) -> Iterator[str]:
        yield "127.0.0.1:0"

    monkeypatch.setattr(suite.topics, "preflight", lambda *_a: [])
    monkeypatch.setattr(suite, "metrics_endpoint", endpoint)
    monkeypatch.setattr(suite, "run_load", run_load)
    monkeypatch.setattr(suite, "measure_startup", measure_startup)
    monkeypatch.setattr(suite, "run_environment", lambda _s: {})
    return tried


def test_a_raising_profile_is_recorded_failed_and_the_others_still_run(
    tmp_path: Path, fake_boundary: list[str]
) -> None:
    settings = dataclasses.replace(Settings(), results_dir=str(tmp_path))
    opts = suite.SuiteOptions(
        quick=True,
        repeat=2,
        profiles=["throughput", "burst", "startup"],
        need_prometheus=False,
        progress=False,
    )
    out = io.StringIO()
    record = suite.run_suite(settings, opts, out)

    # A broken profile stops its own repetitions, not the other profiles.
    assert fake_boundary == ["throughput", "burst", "startup", "startup"]
    saved = json.loads((tmp_path / f"performance-{record['run_id']}.json").read_text())
    assert saved["passed"] is False
    assert saved["interrupted"] is False
    thr = saved["profiles"]["throughput"]
    assert thr["passed"] is False
    assert thr["error"] == "flush timed out with 12 messages in flight"
    assert thr["acked"] is None  # not measured, not 0
    assert thr["started_at"] and thr["ended_at"]
    assert saved["profiles"]["burst"]["error"] == "RuntimeError: worker exploded"
    assert saved["profiles"]["startup"]["passed"] is True
    text = out.getvalue()
    assert "FAIL throughput: flush timed out" in text
    assert "error: RuntimeError: worker exploded" in text
    assert "performance suite FAILED" in text


def test_a_usage_error_is_still_raised(
    tmp_path: Path, fake_boundary: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def bad(*_a: Any, **_k: Any) -> dict[str, Any]:
        raise suite.UsageError("--partitions too many for this cluster")

    monkeypatch.setattr(suite, "run_load", bad)
    settings = dataclasses.replace(Settings(), results_dir=str(tmp_path))
    opts = suite.SuiteOptions(quick=True, profiles=["throughput"], need_prometheus=False)
    with pytest.raises(suite.UsageError):
        suite.run_suite(settings, opts, io.StringIO())
