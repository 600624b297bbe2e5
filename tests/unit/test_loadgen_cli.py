"""Bad input to ``kafkaval perf``: one clear line, exit 2 (no broker needed)."""

from __future__ import annotations

import pytest

from kafkaval.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate", "0"], "must be a number > 0"),
        (["--rate", "-5"], "must be a number > 0"),
        (["--rate", "fast"], "not a number"),
        (["--record-size", "0"], "must be > 0"),
        (["--record-size", "100"], "too small for cdc payloads"),
        (["--profile", "nope"], "unknown profile 'nope'"),
        (["--topic-prefix", "bad name/"], "illegal topic name"),
        (["--threshold", "bogus=1"], "unknown threshold"),
        (["--threshold", "max_failed=x"], "needs a number"),
        (["--repeat", "0"], "must be > 0"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["perf", "run", "--bootstrap-servers", "127.0.0.1:1", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
