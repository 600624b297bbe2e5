"""Run records: one JSON file per run, the exact in-process results.

A record holds at least ``schema_version``, ``run_id``, ``kind``
("performance", "delivery", ...), ``started_at`` / ``ended_at`` (wall-clock
ISO 8601 UTC, the window the report queries Prometheus over) and ``passed``.
Each run is saved as ``<results_dir>/<kind>-<run_id>.json`` and copied to
``latest-<kind>.json``. ``kafkaval/schemas/run-record.schema.json`` (JSON
Schema) describes them; ``SCHEMA_VERSION`` is its version.

The same shapes as types, for mypy (kafkaval/record_types.py):
``RecordHeader`` (every kind), ``PerformanceRecord``, ``DeliveryRecord`` and
the CDC kinds' records with their entries. Records are
read with ``load_run_record`` and written with ``save_run_record``; nothing
else parses or dumps one.
"""

from __future__ import annotations

import json
import math
import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, overload

from kafkaval.errors import KafkavalError
from kafkaval.files import write_atomic
from kafkaval.record_types import (
    CdcDeliveryRecord,
    CdcLoadRecord,
    CdcPerformanceRecord,
    DeliveryRecord,
    PerformanceRecord,
    RecordHeader,
    ScenarioEntry,
)
from kafkaval.redact import redact_tree


def utc_now() -> datetime:
    return datetime.now(UTC)


# Bumped with kafkaval/schemas/run-record.schema.json when a field changes
# meaning or goes away (new optional fields keep it); save_run_record sets it.
SCHEMA_VERSION = 1


def iso(ts: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, the one timestamp format of records."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def figure(value: Any) -> float | None:
    """A figure read from a record: a finite number as a float; None when it is
    absent, not a number or not finite (a bool is no figure)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def new_run_id(now: Callable[[], datetime] = utc_now) -> str:
    """Sortable and unique: UTC time plus a short random suffix."""
    return now().strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def record_header(
    kind: str,
    run_id: str,
    started_at: datetime,
    ended_at: datetime | None = None,
    *,
    environment: dict[str, Any] | None = None,
    quick: bool | None = None,
    tags: Mapping[str, str] | None = None,
) -> RecordHeader:
    """The fields every run record starts with, the header of the record schema.

    Args:
        kind: the record's kind ("performance", "delivery", "cdc-load", ...).
        run_id: from ``new_run_id``.
        started_at: when the run began.
        ended_at: when it ended; now when None (build the record when the run is done).
        environment: what the run ran on (``kafkaval.environment.run_environment``);
            left out when None.
        quick: the run's quick mode; left out when None.
        tags: the run's tags (``kafkaval.tags``); left out when None.
    """
    header: RecordHeader = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "kind": kind,
        "started_at": iso(started_at),
        "ended_at": iso(ended_at or utc_now()),
    }
    if quick is not None:
        header["quick"] = quick
    if tags is not None:
        header["tags"] = dict(tags)
    if environment is not None:
        header["environment"] = environment
    return header


def save_run_record(results_dir: str | Path, record: RecordHeader | dict[str, Any]) -> Path:
    """Write the record (secret-named properties redacted) and update
    ``latest-<kind>.json``, both atomically.

    Raises:
        KafkavalError: the results directory cannot be written.
    """
    record.setdefault("schema_version", SCHEMA_VERSION)
    results = Path(results_dir)
    # Records are shared and archived: no secret-named property reaches one.
    text = json.dumps(redact_tree(record), indent=2, sort_keys=False) + "\n"
    try:
        path = write_atomic(results / f"{record['kind']}-{record['run_id']}.json", text)
        write_atomic(results / f"latest-{record['kind']}.json", text)
    except OSError as e:
        raise KafkavalError(
            f"cannot write run record to {results}: {e.strerror}; "
            "fix permissions or set results_dir"
        ) from e
    return path


def record_schema() -> dict[str, Any]:
    """The JSON Schema of run records (kafkaval/schemas/run-record.schema.json)."""
    text = resources.files("kafkaval").joinpath("schemas/run-record.schema.json").read_text()
    return json.loads(text)


# Typed for the kinds with a record type; the others are read as plain dicts.
@overload
def load_run_record(  # type: ignore[overload-overlap]
    path: str | Path, kind: Literal["performance"]
) -> PerformanceRecord: ...
@overload
def load_run_record(  # type: ignore[overload-overlap]
    path: str | Path, kind: Literal["delivery"]
) -> DeliveryRecord: ...
@overload
def load_run_record(  # type: ignore[overload-overlap]
    path: str | Path, kind: Literal["cdc-performance"]
) -> CdcPerformanceRecord: ...
@overload
def load_run_record(  # type: ignore[overload-overlap]
    path: str | Path, kind: Literal["cdc-load"]
) -> CdcLoadRecord: ...
@overload
def load_run_record(  # type: ignore[overload-overlap]
    path: str | Path, kind: Literal["cdc-delivery"]
) -> CdcDeliveryRecord: ...
@overload
def load_run_record(path: str | Path, kind: str | None = None) -> dict[str, Any]: ...
def load_run_record(
    path: str | Path, kind: str | None = None
) -> (
    PerformanceRecord
    | DeliveryRecord
    | CdcPerformanceRecord
    | CdcLoadRecord
    | CdcDeliveryRecord
    | dict[str, Any]
):
    """Read a run record: the one place a record file is parsed.

    Args:
        path: the record's file.
        kind: the kind it must be; typed as its record type for
            "performance", "delivery", "cdc-performance", "cdc-load" and
            "cdc-delivery". Any kind when None, and the kinds without a type
            (ab, scheduled), read as plain dicts.

    Raises:
        KafkavalError: missing, not valid JSON, not a run record, another
            schema version, or not of ``kind``; one line naming the file and the fix.
    """
    try:
        record = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise KafkavalError(f"no run record at {path}: run the suite first") from None
    except json.JSONDecodeError as e:
        raise KafkavalError(f"run record {path} is not valid JSON ({e}); delete it") from None
    if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
        raise KafkavalError(f"{path} is not a run record (no kind); delete it or move it away")
    # Records written before schema_version existed have version 1's shape.
    version = record.get("schema_version", 1)
    if version != SCHEMA_VERSION:
        raise KafkavalError(
            f"run record {path} has schema_version {version!r}, this kafkaval reads "
            f"{SCHEMA_VERSION}: read it with the kafkaval that wrote it, or delete it"
        )
    if kind is not None and record["kind"] != kind:
        raise KafkavalError(
            f"run record {path} is a {record['kind']!r} record, not {kind!r}: "
            f"move it out of the results folder"
        )
    return record


def list_run_records(results_dir: str | Path, kind: str) -> list[Path]:
    """All saved records of ``kind``, oldest first (run ids sort by time)."""
    return sorted(Path(results_dir).glob(f"{kind}-*.json"))


def merge_scenario(results_dir: str | Path, key: str, entry: ScenarioEntry) -> Path:
    """Put one scenario entry into ``latest-delivery.json`` (atomically).

    Scenarios run by another command (the CDC connector-restart) join the
    latest delivery run so that one delivery report shows them all: the entry
    replaces any earlier one under ``key``, the run's window widens to cover
    it, and ``passed`` is the delivery suite's own verdict AND every merged
    entry's. Without a delivery run yet, the entry starts a record of its own.

    Raises:
        KafkavalError: the results directory cannot be written or the latest
            delivery record cannot be read (``load_run_record``).
    """
    latest = Path(results_dir) / "latest-delivery.json"
    if latest.exists():
        record = load_run_record(latest, "delivery")
    else:
        started, ended = parse_iso(entry["started_at"]), parse_iso(entry["ended_at"])
        record = {
            **record_header("delivery", new_run_id(), started, ended, quick=False),
            "passed": True,  # the merged entries decide it, below
            "scenarios": {},
        }
    # The delivery suite's own verdict stands (it may have failed before running
    # every scenario); the merged entries can only add failures to it.
    record.setdefault("suite_passed", bool(record.get("passed", True)))
    merged = [k for k in record.setdefault("merged", []) if k != key] + [key]
    record["merged"] = merged
    record.setdefault("scenarios", {})[key] = entry
    record["started_at"] = min(record["started_at"], entry["started_at"])
    record["ended_at"] = max(record["ended_at"], entry["ended_at"])
    record["passed"] = record["suite_passed"] and all(
        bool(record["scenarios"][k].get("passed")) for k in merged
    )
    try:
        return write_atomic(latest, json.dumps(redact_tree(record), indent=2) + "\n")
    except OSError as e:
        raise KafkavalError(
            f"cannot write {latest}: {e.strerror}; fix permissions or set results_dir"
        ) from e
