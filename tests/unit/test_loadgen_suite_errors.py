"""The performance suite fails closed: a profile that raises still leaves a run record,
failed with its reason; the consumed-equals-acked check compares ids, not only counts.

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

import jsonschema
import numpy as np
import pytest

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.records import record_schema
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
        return {"startup_seconds": 1.5, "metadata_seconds": 1.0, "broker_rss_bytes": 2**29}

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
    jsonschema.validate(saved, record_schema())
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


class _FakeClient:
    def assign(self, _parts: Any) -> None:
        pass


def test_consumed_equals_acked_compares_ids_not_counts() -> None:
    from loadgen.consumer import RunConsumer

    c = RunConsumer("t", ("t",), 1, {1: 4, 2: 3}, {}, consumer_factory=lambda _c: _FakeClient())
    # Worker 1: seq 0, 1 acked and consumed; seq 2 acked but never consumed; seq 3
    # failed (not acked) yet consumed: the counts match (3 and 3), the ids do not.
    c._seen[1][:] = bytes([1, 1, 0, 1])
    c._seen[2][:] = bytes([1, 1, 1])
    acked = {1: np.array([True, True, True, False]), 2: np.array([True, True, True])}
    assert c.id_mismatch(acked) == {"acked_not_consumed": 1, "consumed_not_acked": 1}
    acked[1][3], c._seen[1][2] = True, 1
    assert c.id_mismatch(acked) == {"acked_not_consumed": 0, "consumed_not_acked": 0}
    # A worker whose acks never arrived: what it sent and was consumed is unaccounted for.
    assert c.id_mismatch({1: acked[1]}) == {"acked_not_consumed": 0, "consumed_not_acked": 3}


def test_the_id_check_fails_when_ids_differ_and_when_not_measured() -> None:
    from loadgen import results
    from loadgen.profiles import PROFILES

    t = {"consumed_ids_equal_acked": PROFILES["throughput"].thresholds["consumed_ids_equal_acked"]}

    def passed(result: dict[str, int]) -> bool:
        [check] = results.threshold_checks(result, t)
        return check.passed

    assert passed({"acked_not_consumed": 0, "consumed_not_acked": 0}) is True
    assert passed({"acked_not_consumed": 1, "consumed_not_acked": 0}) is False
    assert passed({}) is False


def test_a_limit_override_may_name_a_threshold_with_digits() -> None:
    from loadgen.thresholds import parse_cli

    limits, exprs = parse_cli(["max_p95_service_seconds=60", "p99(e2e) < 5ms"])
    assert limits == {"max_p95_service_seconds": 60.0} and [t.expr for t in exprs] == [
        "p99(e2e) < 5ms"
    ]
