"""kafkaval report: skipped reports, no records, and failures that leave old reports intact."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from report_fakes import FakeProm, fixture_totals

from kafkaval.cli import main
from kafkaval.config import load_settings
from kafkaval.errors import KafkavalError
from kafkaval.prom_client import Sample
from report.cli import generate

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


class _WindowGone(FakeProm):
    """Prometheus that no longer holds one run's window (retention, a wiped stack)."""

    def __init__(self, gone_after: datetime) -> None:
        super().__init__(fixture_totals())
        self.gone_after = gone_after

    def query(self, expr: str, at: datetime | float | None = None) -> list[Sample]:
        if isinstance(at, datetime) and at > self.gone_after:
            return []
        return super().query(expr, at)


# The fixture delivery run (11:00-11:01) is after the performance run (10:00-10:02).
DELIVERY_GONE = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)


def test_an_old_runs_missing_window_does_not_fail_the_required_report(tmp_path: Path) -> None:
    _copy_record(tmp_path, "performance")
    _copy_record(tmp_path, "delivery")
    out = io.StringIO()
    generate(
        _settings(tmp_path), _WindowGone(DELIVERY_GONE), lambda: FROZEN, False, out,
        require=["performance"],
    )  # fmt: skip
    reports = tmp_path / "reports"
    perf = (reports / "performance-baseline.md").read_text()
    delivery = (reports / "delivery-guarantees.md").read_text()
    assert "run record only" not in perf
    assert "From the run record only" in delivery
    assert "no kafkaval data for delivery run" in delivery
    # The record's exact counts are there; the cross-check says it was not done.
    assert "not checked" in delivery and "| yes |" not in delivery and "**NO**" not in delivery
    notes = [n for n in out.getvalue().splitlines() if n.startswith("delivery report")]
    assert len(notes) == 1 and "written from the run record only" in notes[0]


def test_empty_window_writes_record_only_reports_and_fails(tmp_path: Path) -> None:
    _copy_record(tmp_path, "performance")
    _copy_record(tmp_path, "delivery")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "performance-baseline.md").write_text("old perf\n")
    with pytest.raises(KafkavalError, match="performance report written from the run record"):
        generate(_settings(tmp_path), FakeProm({}, empty=True), lambda: FROZEN, False)
    perf = (reports / "performance-baseline.md").read_text()
    assert "From the run record only" in perf
    # Figures from the record: the fixture's exact p95 and totals, no Prometheus column.
    record = json.loads((DATA / "latest-performance.json").read_text())
    entry = next(iter(record["profiles"].values()))
    assert f"sent {entry['sent']:,}" in perf
    assert "From the run record only" in (reports / "delivery-guarantees.md").read_text()


def test_a_report_that_cannot_be_built_is_skipped_in_one_line(tmp_path: Path) -> None:
    _copy_record(tmp_path, "delivery")
    (tmp_path / "results" / "latest-performance.json").write_text("{not json")
    out = io.StringIO()
    generate(
        _settings(tmp_path), FakeProm(fixture_totals()), lambda: FROZEN, False, out,
        require=["delivery"],
    )  # fmt: skip
    assert (tmp_path / "reports" / "delivery-guarantees.md").exists()
    assert not (tmp_path / "reports" / "performance-baseline.md").exists()
    notes = [n for n in out.getvalue().splitlines() if n.startswith("performance report")]
    assert len(notes) == 1 and "skipped" in notes[0]


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
    # Unreachable may be passing: the previous report stays (here: none was written).
    assert not (tmp_path / "reports").exists()
