"""The CLI: exit codes and one-line errors, never a traceback for a user mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaval.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.err


def test_unknown_verb_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "frobnicate")
    assert code == 2
    assert "invalid choice" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_broker_count(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, "stack", "up", "--brokers", "2")
    assert code == 2 and "invalid choice" in err


def test_bad_kafka_prop_flag(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = run(capsys, "stack", "status", "--state-dir", str(tmp_path), "--kafka-prop", "acks")
    assert code == 2 and "write key=value" in err


def test_missing_config_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = run(capsys, "stack", "status", "--config", str(tmp_path / "x.toml"))
    assert code == 2 and "not found" in err


def test_status_without_stack(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["stack", "status", "--state-dir", str(tmp_path)]) == 1
    assert "no stack" in capsys.readouterr().out
