"""The run record's JSON Schema: itself valid, and it rejects what it should."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from kafkaval.records import (
    SCHEMA_VERSION,
    parse_iso,
    record_header,
    record_schema,
    save_run_record,
)

LAT = {"p50": 0.01, "p95": 0.02, "p99": 0.03, "p999": 0.04, "max": 0.05, "mean": 0.01, "count": 9}
EMPTY = {k: None for k in LAT} | {"count": 0}
REP: dict[str, Any] = {
    "passed": True,
    "started_at": "2026-12-02T18:00:00.000Z",
    "ended_at": "2026-12-02T18:00:10.000Z",
    "target_rate": 1000.0,
    "achieved_rate": 999.5,
    "sent": 9,
    "acked": 9,
    "failed": 0,
    "consumed": 9,
    "service_latency_seconds": LAT,
    "send_delay_seconds": LAT,
    "response_latency_seconds": LAT,
    "e2e_latency_seconds": LAT,
    "thresholds": {
        "max_failed": {"expr": "failed <= 0", "limit": 0.0, "value": 0.0, "passed": True},
        "p99(e2e) < 1ms": {
            "expr": "p99(e2e) < 1ms",
            "limit": 0.001,
            "value": None,
            "passed": False,
            "reason": "not measured: e2e_latency_seconds.p99",
        },
    },
}
RECORD: dict[str, Any] = {
    "schema_version": SCHEMA_VERSION,
    "run_id": "20261202T180000Z-0a1b2c",
    "kind": "performance",
    "started_at": "2026-12-02T18:00:00.000Z",
    "ended_at": "2026-12-02T18:00:11.000Z",
    "quick": True,
    "tags": {"branch": "main"},
    "passed": False,
    "interrupted": False,
    "aborted": None,
    "repeat": 1,
    "metrics": {
        "job": "kafkaval-loadgen",
        "instances": ["loadgen-0"],
        "histogram_error_bound": 0.04,
    },
    "profiles": {
        "throughput": {
            **REP,
            "parameters": {"description": "d", "quick": True, "workers": 1},
            "repetitions": [REP],
        }
    },
}


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(record_schema())
    jsonschema.validate(RECORD, record_schema())


def _broken(path: list[Any], value: Any) -> dict[str, Any]:
    record = copy.deepcopy(RECORD)
    target = record
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return record


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (["schema_version"], KeyError),
        (["schema_version"], 2),
        (["started_at"], "yesterday"),
        (["tags", "bad-name"], "x"),
        (["tags", "env"], "has space"),
        (["profiles", "throughput", "thresholds", "max_failed", "expr"], KeyError),
        (["profiles", "throughput", "sent"], -1),
        (["profiles", "throughput", "e2e_latency_seconds", "p99"], "fast"),
        (["profiles", "throughput", "repetitions"], []),
        (["aborted"], {"profile": "throughput"}),
        (["interrupted"], KeyError),
    ],
)
def test_the_schema_rejects_a_broken_record(path: list[Any], value: Any) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_broken(path, value), record_schema())


def test_saved_records_carry_the_schema_version(tmp_path: Path) -> None:
    record = {k: v for k, v in RECORD.items() if k != "schema_version"}
    save_run_record(tmp_path, record)
    assert record["schema_version"] == SCHEMA_VERSION
    empty = {**REP, "service_latency_seconds": EMPTY}
    jsonschema.validate(
        {**RECORD, "profiles": {"t": {**RECORD["profiles"]["throughput"], **empty}}},
        record_schema(),
    )


def test_record_header_is_the_schema_header() -> None:
    started, ended = (
        datetime(2026, 12, 2, 18, 0, tzinfo=UTC),
        datetime(2026, 12, 2, 18, 1, tzinfo=UTC),
    )
    header = record_header(
        "performance", "20261202T180000Z-abcdef", started, ended,
        environment={"stack_kind": "local (processes)"}, quick=True, tags={"ci": "1"},
    )  # fmt: skip
    assert header == {
        "schema_version": SCHEMA_VERSION,
        "run_id": "20261202T180000Z-abcdef",
        "kind": "performance",
        "started_at": "2026-12-02T18:00:00.000Z",
        "ended_at": "2026-12-02T18:01:00.000Z",
        "quick": True,
        "tags": {"ci": "1"},
        "environment": {"stack_kind": "local (processes)"},
    }
    # The kind's own fields (allOf) are not a header's.
    header_only = {k: v for k, v in record_schema().items() if k != "allOf"}
    jsonschema.validate(header, header_only)


def test_record_header_leaves_out_what_a_kind_has_not_and_ends_now() -> None:
    started = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    before = datetime.now(UTC)
    header = record_header("cdc-load", "20261202T180000Z-abcdef", started)
    assert set(header) == {"schema_version", "run_id", "kind", "started_at", "ended_at"}
    assert parse_iso(header["ended_at"]) >= before.replace(microsecond=0)
