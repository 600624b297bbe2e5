"""Threshold expressions: parsing, judging, and one clear line for each mistake."""

from __future__ import annotations

import pytest

from kafkaval.errors import UsageError
from loadgen.early_abort import AbortWatch, decidable_early, lost_early
from loadgen.results import threshold_checks, threshold_records
from loadgen.thresholds import parse, parse_cli

LAT = {"p50": 0.01, "p95": 0.02, "p99": 0.045, "p999": 0.06, "max": 0.08, "mean": 0.012}
RESULT = {
    "target_rate": 1000.0,
    "achieved_rate": 995.0,
    "sent": 100,
    "acked": 99,
    "failed": 1,
    "consumed": 99,
    "service_latency_seconds": LAT,
    "e2e_latency_seconds": {**LAT, "p99": 0.055},
    "drift": {"p99_last_quarter_seconds": 0.03},
    "broker_memory_peak_bytes": None,
    "broker_rss_bytes": 3 * 2**30,
}


@pytest.mark.parametrize(
    ("text", "value", "limit", "passed"),
    [
        ("p99(e2e) < 50ms", 0.055, 0.05, False),
        ("p99(service) < 50ms", 0.045, 0.05, True),
        ("rate(achieved)/rate(target) >= 0.99", 0.995, 0.99, True),
        ("rate(achieved) / rate(target) >= 99.9%", 0.995, 0.999, False),
        ("failed == 0", 1, 0, False),
        ("failed <= 1", 1, 1, True),
        ("sent == acked + failed", 100, 100, True),
        ("consumed != acked", 99, 99, False),
        ("max(service) - p50(service) <= 0.07", 0.07, 0.07, True),
        ("drift.p99_last_quarter_seconds < 0.1s", 0.03, 0.1, True),
        ("broker_memory < 2GiB", 3 * 2**30, 2 * 2**30, False),  # the started broker's RSS
        ("p99(e2e) * 2 < (1 + 1) * 0.1", 0.11, 0.2, True),
        ("mean(service) > 500us", 0.012, 0.0005, True),
    ],
)
def test_expressions_judge_the_recorded_figures(
    text: str, value: float, limit: float, passed: bool
) -> None:
    out = parse(text).judge(RESULT)
    assert out is not None
    assert out.measured == pytest.approx(value) and out.limit == pytest.approx(limit)
    assert out.passed is passed and out.expr == text


def test_a_figure_not_measured_fails_and_never_passes() -> None:
    out = parse("p99(response) < 1s").judge(RESULT)
    assert out is not None and not out.passed and out.measured is None
    assert out.reason == "not measured: response_latency_seconds.p99"
    zero = parse("rate(achieved)/rate(target) > 0").judge({**RESULT, "target_rate": 0})
    assert zero is not None and not zero.passed and "division by zero" in zero.reason
    # Unless the threshold says so (a limit only some stacks can measure): left out.
    assert parse("broker_cpu_peak_cores < 2", skip_unmeasured=True).judge(RESULT) is None
    assert threshold_checks(RESULT, {"t": parse("broker_cpu_peak_cores < 2", "t", True)}) == []


def test_record_form_of_a_judged_threshold() -> None:
    out = threshold_records(threshold_checks(RESULT, {"e2e": parse("p99(e2e) < 50ms", "e2e")}))
    assert out == {
        "e2e": {"expr": "p99(e2e) < 50ms", "limit": 0.05, "value": 0.055, "passed": False}
    }


def test_kinds_each_threshold_applies_to() -> None:
    assert parse("p99(e2e) < 1s").applies_to("load")
    assert not parse("p99(e2e) < 1s").applies_to("startup")
    assert parse("startup_seconds < 5s").applies_to("startup")
    assert not parse("startup_seconds < 5s").applies_to("load")
    assert parse("failed == 0").applies_to("startup") and parse("failed == 0").applies_to("load")


def test_with_limit_sets_the_constant() -> None:
    t = parse("p95(service) < 100ms", "max_p95_service_seconds").with_limit(0.2)
    assert t.name == "max_p95_service_seconds" and t.expr == "p95(service) < 0.2"
    with pytest.raises(UsageError, match="compares two figures"):
        parse("consumed == acked", "c").with_limit(5)


def test_cli_values_are_overrides_or_expressions() -> None:
    overrides, exprs = parse_cli(["max_failed=3", "failed == 0", "p99(e2e)<50ms"])
    assert overrides == {"max_failed": 3.0}
    assert [t.name for t in exprs] == ["failed == 0", "p99(e2e)<50ms"]
    with pytest.raises(UsageError, match="max_failed needs a number, not 'x'"):
        parse_cli(["max_failed=x"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p99(lag) < 5ms", "unknown figure p99(lag) (known: p50|p95|p99|p999|max|mean|count("),
        ("latency < 5ms", "unknown figure 'latency' (known: "),
        ("p99(e2e) < 5 parsecs", "unexpected 'parsecs'"),
        ("p99(e2e) < 5h", "unknown unit 'h'"),
        ("p99(e2e)", "needs a comparison (<= >= == != < >), found nothing"),
        ("p99(e2e) < 5ms < 6ms", "unexpected '<' after the comparison"),
        ("1 < 2", "compares two constants"),
        ("p99(e2e < 5ms", "expected ')'"),
        ("failed == ", "it ends too early"),
        ("", "it is empty"),
        ("__import__('os') == 0", "unexpected \"'os')"),
        ("__import__ == 0", "unknown figure '__import__'"),
        ("failed == 0; rm", "unexpected ';"),
    ],
)
def test_each_mistake_gives_one_clear_line(text: str, expected: str) -> None:
    with pytest.raises(UsageError) as e:
        parse(text)
    assert expected in str(e.value) and "\n" not in str(e.value)


def test_abort_watch_stops_once_a_growing_count_passes_its_limit() -> None:
    stops = []
    checks = {
        "max_failed": parse("failed <= 2", "max_failed"),
        "none": parse("failed == 0", "none"),
        "p99": parse("p99(e2e) < 1ms", "p99"),  # not decidable before the end
        "dup": parse("duplicates_consumed < 1", "dup"),
    }
    watch = AbortWatch(checks, lambda: stops.append(1))
    assert [t.name for t in watch.watched] == ["max_failed", "none", "p99", "dup"]
    assert watch.latencies == {"e2e"}
    watch.check({"failed": 0, "duplicates_consumed": 0})
    assert watch.lost is None and not stops
    watch.check({"failed": 1})
    assert watch.lost is not None and watch.lost.name == "none" and stops == [1]
    assert (watch.lost.measured, watch.lost.limit, watch.lost.passed) == (1, 0, False)
    watch.check({"failed": 5})  # the first loss is the one kept
    assert watch.lost.name == "none" and stops == [1]
    # A figure compared from below, or with another figure, is never lost early.
    assert not decidable_early(parse("failed >= 1"))
    assert not decidable_early(parse("p99(e2e) > 1ms"))
    assert not decidable_early(parse("mean(e2e) < 1ms"))
    assert not decidable_early(parse("failed <= acked"))
    assert lost_early(parse("duplicates_consumed < 1"), {"duplicates_consumed": 1}) is not None
    assert lost_early(parse("duplicates_consumed < 1"), {}) is None


def test_report_threshold_rows_show_the_expression() -> None:
    from report.performance import threshold_rows

    rows = threshold_rows(
        {
            "max_failed": {"expr": "failed <= 0", "limit": 0.0, "value": 0, "passed": True},
            "p99(e2e) < 50ms": {"expr": "p99(e2e) < 50ms", "limit": 0.05, "value": None,
                                "passed": False, "reason": "not measured: e2e"},
        }
    )  # fmt: skip
    assert [r["name"] for r in rows] == ["max_failed: `failed <= 0`", "p99(e2e) < 50ms"]
    assert rows[1]["value"] is None and rows[1]["passed"] is False


def test_a_percentile_is_lost_early_only_when_no_later_values_can_save_it() -> None:
    t = parse("p99(e2e) <= 50ms", "p99")
    planned = 1000  # p99 of 1000 values: the 990th smallest, the 11th largest
    slow = [0.2] * 10
    assert lost_early(t, {}, lambda _n: slow + [0.001] * 100, planned) is None  # 10: not yet
    out = lost_early(t, {}, lambda _n: [0.2] * 11 + [0.001] * 100, planned)
    assert out is not None and not out.passed and out.measured == 0.2 and out.limit == 0.05
    assert "the final value is at least 0.2 whatever comes" in out.reason
    # max: lost by the first value over the limit.
    assert lost_early(parse("max(service) < 1s"), {}, lambda _n: [0.1, 1.0], 10) is not None
    assert lost_early(parse("max(service) < 1s"), {}, lambda _n: [0.1, 0.9], 10) is None
    # Without the samples, or past the plan, nothing is claimed.
    assert lost_early(t, {}, None, planned) is None
    assert lost_early(t, {}, lambda _n: [1.0] * 20, 10) is None


@pytest.mark.parametrize("seed", range(20))
def test_an_early_loss_is_always_a_final_failure(seed: int) -> None:
    import random

    import numpy as np

    from loadgen.recorder import summarize_us

    rng = random.Random(seed)
    planned = rng.randrange(20, 400)
    final = [rng.choice([1, 2, 3, 80_000]) for _ in range(rng.randrange(planned // 2, planned + 1))]
    for stat in ("p50", "p95", "p99", "max"):
        t = parse(f"{stat}(e2e) < 50ms")
        for cut in range(0, len(final) + 1, 7):
            so_far = np.array(final[:cut]) / 1e6
            out = lost_early(t, {}, lambda _n, v=so_far: v, planned)
            if out is not None:
                # Whatever came after, the final figure fails too, and is at least the bound.
                figure = summarize_us(final)[stat]
                assert figure is not None and figure >= 0.05 and figure >= out.measured
