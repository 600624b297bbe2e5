"""load_run_record: the one reader of record files, and its one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kafkaval.errors import KafkavalError
from kafkaval.records import load_run_record, record_header, save_run_record

T = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)


def _write(tmp_path: Path, record: object) -> Path:
    path = tmp_path / "performance-x.json"
    path.write_text(json.dumps(record))
    return path


def test_a_saved_record_reads_back_as_its_kind(tmp_path: Path) -> None:
    record = {**record_header("delivery", "20261202T180000Z-0a1b2c", T, T), "scenarios": {}}
    path = save_run_record(tmp_path, record)
    assert load_run_record(path, "delivery") == record


def test_a_record_from_before_schema_version_reads_as_version_1(tmp_path: Path) -> None:
    path = _write(tmp_path, {"kind": "performance", "run_id": "r"})
    assert load_run_record(path, "performance")["run_id"] == "r"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"kind": "performance", "schema_version": 2}, "schema_version 2, this kafkaval reads 1"),
        ({"kind": "delivery", "schema_version": 1}, "is a 'delivery' record, not 'performance'"),
        ([1, 2], "is not a run record"),
        ({"run_id": "r"}, "is not a run record"),
    ],
)
def test_a_bad_record_is_one_line_naming_the_file(
    tmp_path: Path, record: object, message: str
) -> None:
    path = _write(tmp_path, record)
    with pytest.raises(KafkavalError, match=message) as e:
        load_run_record(path, "performance")
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_torn_or_missing_record_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "latest-performance.json"
    with pytest.raises(KafkavalError, match="run the suite first"):
        load_run_record(path)
    path.write_text("{not json")
    with pytest.raises(KafkavalError, match="not valid JSON.*delete it"):
        load_run_record(path)
