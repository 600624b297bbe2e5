"""`kafkaval cdc` bad input: one line, exit 2; unreachable services: one line, exit 1."""

from __future__ import annotations

import pytest

from cdc.config import load_cdc_config
from kafkaval.cli import main
from kafkaval.errors import UsageError


def test_config_from_env_and_overrides() -> None:
    cfg = load_cdc_config(environ={"KAFKAVAL_CDC_PG_PORT": "5555"}, overrides={"connect_port": 8})
    assert cfg.pg_port == 5555 and cfg.rest_url == "http://127.0.0.1:8" and not cfg.attach
    assert cfg.topics[0] == "dbserver.public.videos"
    with pytest.raises(UsageError, match="expected an integer"):
        load_cdc_config(environ={"KAFKAVAL_CDC_PG_PORT": "x"})
    with pytest.raises(UsageError, match="http"):
        load_cdc_config(environ={}, overrides={"connect_url": "ftp://x"})


@pytest.mark.parametrize(
    "argv",
    [
        ["cdc", "snapshot", "--rows", "2"],
        ["cdc", "connector-restart", "--mix", "1:x"],
        ["cdc", "connector-restart", "--mutation", "nope"],
        ["cdc", "up", "--pg-port", "notaport"],
        ["cdc", "load", "--min-rate-fraction", "1.5"],
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kafkaval: error:") and "\n" not in err


def test_unreachable_kafka_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["cdc", "snapshot", "--rows", "10", "--bootstrap-servers", "127.0.0.1:1"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "not reachable" in err and "\n" not in err


def test_a_run_prints_each_failure_then_its_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    from cdc.cli import _verdict

    failed = {"passed": False, "results": {"failures": ["1 committed change(s) never reached"]}}
    assert _verdict(failed) == 1
    assert capsys.readouterr().out == "FAIL: 1 committed change(s) never reached\nFAIL\n"
    assert _verdict({"passed": True, "results": {"failures": []}}) == 0
    assert capsys.readouterr().out == "PASS\n"
