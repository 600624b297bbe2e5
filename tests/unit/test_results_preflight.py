"""A results folder the run cannot write is found before any load, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from kafkaval.cli import main
from kafkaval.errors import KafkavalError
from kafkaval.files import ensure_writable_dir


@pytest.fixture
def unwritable(tmp_path: Path) -> Path:
    # Below a regular file: no folder can be made there, whoever runs the test (root too).
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return blocker / "results"


def test_writable_folder_is_created_and_left_clean(tmp_path: Path) -> None:
    folder = ensure_writable_dir(tmp_path / "new" / "results")
    assert folder.is_dir() and list(folder.iterdir()) == []


def test_a_probe_only_check_leaves_no_folder_it_made(tmp_path: Path) -> None:
    # A preflight refused by a later check (broker down) must leave nothing behind.
    (tmp_path / "kept").mkdir()
    ensure_writable_dir(tmp_path / "kept" / "new" / "results", keep=False)
    assert list(tmp_path.iterdir()) == [tmp_path / "kept"]
    assert list((tmp_path / "kept").iterdir()) == []


def test_unwritable_folder_names_cause_and_fix(unwritable: Path) -> None:
    with pytest.raises(KafkavalError, match="not writable .* set results_dir") as e:
        ensure_writable_dir(unwritable)
    assert str(unwritable) in str(e.value)


@pytest.mark.parametrize(
    "argv",
    [
        ["perf", "run", "--quick"],
        ["delivery", "run", "--quick", "--scenario", "broker-restart"],
        ["cdc", "snapshot", "--quick"],
        ["cdc", "load", "--quick"],
    ],
)
def test_runs_refuse_before_any_load(
    argv: list[str], unwritable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on these ports: a run that got past the folder check would
    # fail on Kafka instead, with another message.
    code = main(
        [
            *argv,
            "--results-dir",
            str(unwritable),
            "--bootstrap-servers",
            "127.0.0.1:9",
            "--prometheus-url",
            "http://127.0.0.1:9",
            "--config",
            str(_empty_config(tmp_path)),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "not writable" in err, err


def _empty_config(tmp_path: Path) -> Path:
    path = tmp_path / "kafkaval.toml"
    path.write_text("")
    return path
