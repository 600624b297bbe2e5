"""Bad input to ``kafkaval perf``: one clear line, exit 2 (no broker needed)."""

from __future__ import annotations

from pathlib import Path

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
        (["--duration", "0"], "must be a number > 0"),
        (["--messages", "10", "--duration", "5"], "not both"),
        (["--profile", "snapshot", "--duration", "5"], "--duration needs a fixed rate"),
        (["--key-space", "0"], "must be > 0"),
        (["--threshold", "p99(lag) < 5ms"], "unknown figure p99(lag) (known: "),
        (["--threshold", "p99(e2e) <"], "it ends too early"),
        (["--profile", "startup", "--threshold", "p99(e2e) < 1s"], "no profile of this run"),
        (["--tag", "job=x"], "tag name 'job' is a label"),
        (["--tag", "env=a b"], "bad value for tag env"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["perf", "run", "--bootstrap-servers", "127.0.0.1:1", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_summary_shows_median_and_spread_with_repetitions() -> None:
    from loadgen.console import summary_table
    from loadgen.results import combine

    def rep(rate: float, p95: float) -> dict:
        lat = {"p50": p95 / 2, "p95": p95, "p99": p95 * 2, "p999": p95 * 3, "max": p95 * 4}
        return {"target_rate": 1000.0, "achieved_rate": rate, "sent": 10, "acked": 10,
                "failed": 0, "consumed": 10, "passed": True, "service_latency_seconds": lat,
                "response_latency_seconds": lat, "e2e_latency_seconds": lat}  # fmt: skip

    profile = combine([rep(990.0, 0.010), rep(1000.0, 0.020), rep(1010.0, 0.030)])
    record = {"repeat": 3, "passed": True, "profiles": {"throughput": profile}}
    text = summary_table(record)
    assert "median [min .. max] over 3 repetitions:" in text
    assert "throughput: achieved/s 1,000 [990 .. 1,010]; svc p95 ms 20.0 [10.0 .. 30.0]" in text
    single = summary_table(
        {"repeat": 1, "passed": True, "profiles": {"throughput": rep(1e3, 0.01)}}
    )
    assert "repetitions" not in single


def test_rate_max_and_duration_shape_the_measured_phase() -> None:
    from kafkaval.pacing import Phase
    from loadgen.profiles import PROFILES, scaled_phases

    throughput, burst = PROFILES["throughput"], PROFILES["burst"]
    assert scaled_phases(throughput, False, "max") == (Phase(60_000, None),)
    assert scaled_phases(throughput, False, 2000.0, duration=10) == (Phase(20_000, 2000.0),)
    # burst: only the measured (middle) phase goes unpaced; the others keep their rate
    phases = scaled_phases(burst, False, "max")
    assert phases[1].rate is None and phases[0].rate == 500.0 and phases[2].rate == 500.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "w"\nrate = 5\n', "w.toml: rate: unknown key; allowed: name, description,"),
        ('name = "w"\n[[phases]]\ncount = 10\nrate = -1\n', "impossible rate -1 msg/s"),
        ('name = "w"\n[[phases]]\ncount = "ten"\n', "phases[0].count: must be an integer"),
        ("name = \n", "not valid TOML"),
    ],
)
def test_a_bad_workload_file_is_one_line_exit_2(
    text: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "w.toml"
    path.write_text(text)
    junit = tmp_path / "junit.xml"
    argv = ["perf", "run", "--bootstrap-servers", "127.0.0.1:1", "--workload", str(path)]
    assert main([*argv, "--junit", str(junit)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not junit.exists()  # a usage error: nothing ran, nothing to report


def test_profile_line_names_each_failed_threshold_with_its_figures() -> None:
    from loadgen import results
    from loadgen.console import profile_line
    from loadgen.thresholds import parse

    lat = {"p50": 0.001, "p95": 0.002, "p99": 0.003}
    res = {"achieved_rate": 990.0, "sent": 10, "acked": 10, "failed": 3, "consumed": 10,
           "service_latency_seconds": lat}  # fmt: skip
    thresholds = {
        "max_failed": parse("failed <= 0", "max_failed"),
        "mem": parse("broker_memory < 1"),
    }
    res["thresholds"] = results.threshold_records(results.threshold_checks(res, thresholds))
    res["passed"] = False
    assert profile_line("throughput", res).splitlines() == [
        "   FAIL throughput: 10/10 acked, 3 failed, 10 consumed, 990 msg/s, service p95 2.0 ms"
        " (failed: max_failed, mem)",
        "     FAIL max_failed (failed <= 0): measured 3, limit 0",
        "     FAIL mem (broker_memory < 1): limit 1 (not measured: broker_memory)",
    ]
    assert res["thresholds"]["max_failed"] == {
        "expr": "failed <= 0", "limit": 0.0, "value": 3.0, "passed": False
    }  # fmt: skip
