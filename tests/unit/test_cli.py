"""The CLI: exit codes and one-line errors, never a traceback for a user mistake."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kafkaval.cli import build_parser, main


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


def _parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every parser of the command tree with its command path."""
    found = [("kafkaval", build_parser())]
    for path, parser in found:  # grows while iterating: a breadth-first walk
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                found += [(f"{path} {name}", child) for name, child in action.choices.items()]
    return found


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("kafkaval ")


def test_help_shows_no_internal_dest_names() -> None:
    leaks = []
    for path, parser in _parsers():
        text = parser.format_help()
        for action in parser._actions:
            flag_name = max(action.option_strings, key=len, default="").lstrip("-")
            internal = action.dest.upper()
            if action.option_strings and flag_name.replace("-", "_") != action.dest:
                if internal in text:
                    leaks.append(f"{path}: {internal}")
    assert not leaks


def test_every_verb_is_listed_by_its_parent() -> None:
    for path, parser in _parsers():
        for action in parser._actions:
            # A hand-written list of verbs as metavar ("up|down|...") must name them all.
            if isinstance(action, argparse._SubParsersAction) and "|" in (action.metavar or ""):
                listed = str(action.metavar).split("|")
                missing = [name for name in action.choices if name not in listed]
                assert not missing, f"{path} --help does not list {missing}"


def test_a_component_that_fails_to_import_is_an_error_not_a_missing_verb(monkeypatch) -> None:
    from kafkaval import cli

    monkeypatch.setattr(cli, "COMMAND_MODULES", [*cli.COMMAND_MODULES, "kafkaval_no_such"])
    with pytest.raises(ModuleNotFoundError, match="kafkaval_no_such"):
        build_parser()
