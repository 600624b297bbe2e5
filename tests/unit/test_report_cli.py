"""kafkaval report: skipped reports, no records, and failures that leave old reports intact."""

from __future__ import annotations

import dataclasses
import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from report_fakes import FakeProm, fixture_totals

from kafkaval.cli import main
from kafkaval.config import load_settings
from kafkaval.errors import KafkavalError
from report.cli import generate
from report.prom_client import PrometheusError

DATA = Path(__file__).parent / "data" / "report"
FROZEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _settings(tmp_path: Path):
    return dataclasses.replace(
        load_settings(environ={}),
        results_dir=str(tmp_path / "results"),
        reports_dir=str(tmp_path / "reports"),
        prometheus_url="http://127.0.0.1:9",
    )


def _copy_record(tmp_path: Path, kind: str) -> None:
    (tmp_path / "results").mkdir(exist_ok=True)
    shutil.copy(DATA / f"latest-{kind}.json", tmp_path / "results" / f"latest-{kind}.json")


def test_missing_record_skips_that_report(tmp_path: Path) -> None:
    _copy_record(tmp_path, "delivery")
    out = io.StringIO()
    generate(_settings(tmp_path), FakeProm(fixture_totals()), lambda: FROZEN, False, out)
    assert (tmp_path / "reports" / "delivery-guarantees.md").exists()
    assert not (tmp_path / "reports" / "performance-baseline.md").exists()
    notes = out.getvalue().splitlines()
    assert notes[0].startswith("skipped performance report: no ")
    assert "make test-kafka-performance" in notes[0]


def test_no_record_at_all_fails(tmp_path: Path) -> None:
    with pytest.raises(KafkavalError, match="no run records"):
        generate(_settings(tmp_path), FakeProm({}), lambda: FROZEN, False, io.StringIO())


def test_empty_window_fails_and_keeps_old_reports(tmp_path: Path) -> None:
    _copy_record(tmp_path, "performance")
    _copy_record(tmp_path, "delivery")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "performance-baseline.md").write_text("old perf\n")
    (reports / "delivery-guarantees.md").write_text("old delivery\n")
    with pytest.raises(PrometheusError, match="no kafkaval data for performance run"):
        generate(_settings(tmp_path), FakeProm({}, empty=True), lambda: FROZEN, False)
    assert (reports / "performance-baseline.md").read_text() == "old perf\n"
    assert (reports / "delivery-guarantees.md").read_text() == "old delivery\n"
    assert sorted(p.name for p in reports.iterdir()) == [
        "delivery-guarantees.md",
        "performance-baseline.md",
    ]


def test_cli_unreachable_prometheus_is_one_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _copy_record(tmp_path, "delivery")
    argv = [
        "report",
        "--no-charts",
        "--results-dir",
        str(tmp_path / "results"),
        "--reports-dir",
        str(tmp_path / "reports"),
        # Port 9 (discard) on loopback: nothing listens, the connection is refused.
        "--prometheus-url",
        "http://127.0.0.1:9",
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "Prometheus at http://127.0.0.1:9 is unreachable" in err[0]
    assert not (tmp_path / "reports").exists()
