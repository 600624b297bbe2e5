"""The regression verdict on synthetic series with known shifts."""

from __future__ import annotations

import random

import pytest

from scheduler import verdict as v
from scheduler.verdict_terms import (
    HIGHER_IS_BETTER,
    IMPROVEMENT,
    INSUFFICIENT,
    LOWER_IS_BETTER,
    MUST_BE_ZERO,
    NO_CHANGE,
    REGRESSION,
    VerdictPolicy,
)


def _series(rng: random.Random, center: float, cv: float, n: int) -> list[float]:
    return [center * (1 + rng.gauss(0, cv)) for _ in range(n)]


def test_no_change_is_not_flagged() -> None:
    rng = random.Random(1)
    base, cand = _series(rng, 0.050, 0.03, 5), _series(rng, 0.050, 0.03, 5)
    out = v.judge("p99", LOWER_IS_BETTER, base, cand)
    assert out.decision == NO_CHANGE
    assert not out.is_regression
    assert out.ci_low is not None and out.ci_low <= 0 <= out.ci_high  # type: ignore[operator]


def test_clear_15_percent_slowdown_is_flagged_with_its_numbers() -> None:
    rng = random.Random(2)
    base, cand = _series(rng, 0.050, 0.02, 5), _series(rng, 0.0575, 0.02, 5)
    out = v.judge("p99", LOWER_IS_BETTER, base, cand)
    assert out.decision == REGRESSION
    assert out.effect == pytest.approx(0.15, abs=0.04)
    assert out.ci_low is not None and out.ci_low > 0.05
    assert out.p_value is not None and out.p_value <= 0.05


def test_clear_15_percent_throughput_drop_is_flagged_and_a_rise_is_an_improvement() -> None:
    rng = random.Random(3)
    base = _series(rng, 10_000, 0.02, 5)
    worse = v.judge("rate", HIGHER_IS_BETTER, base, _series(rng, 8_500, 0.02, 5))
    better = v.judge("rate", HIGHER_IS_BETTER, base, _series(rng, 11_500, 0.02, 5))
    assert worse.decision == REGRESSION and worse.effect == pytest.approx(0.15, abs=0.04)
    assert better.decision == IMPROVEMENT and better.effect < 0  # type: ignore[operator]


def test_a_shift_inside_the_noise_is_not_flagged() -> None:
    # 8% slower medians but 25% run-to-run noise and 3 repetitions: not clear.
    base, cand = [0.050, 0.041, 0.066], [0.054, 0.047, 0.070]
    out = v.judge("p99", LOWER_IS_BETTER, base, cand)
    assert out.effect == pytest.approx(0.08, abs=0.001)
    assert out.decision == NO_CHANGE and "noise" in out.reason
    # Over many such runs it is flagged about as rarely as no change at all
    # (3 vs 3 samples: only a complete separation is significant).
    rng = random.Random(4)
    flagged = 0
    for _ in range(400):
        base, cand = _series(rng, 0.05, 0.25, 3), _series(rng, 0.054, 0.25, 3)
        flagged += v.judge("p99", LOWER_IS_BETTER, base, cand, with_interval=False).is_regression
    assert flagged / 400 <= 0.12


def test_a_significant_but_tiny_change_is_below_the_minimum_effect() -> None:
    base = [100.0, 100.1, 100.2, 100.3, 100.4]
    cand = [102.0, 102.1, 102.2, 102.3, 102.4]  # 2% worse, perfectly separated
    out = v.judge("p95", LOWER_IS_BETTER, base, cand)
    assert out.p_value is not None and out.p_value < 0.01
    assert out.decision == NO_CHANGE
    assert "minimum effect" in out.reason


def test_false_alarm_rate_without_change_stays_at_or_below_alpha() -> None:
    rng = random.Random(5)
    trials = 1000
    flagged = sum(
        v.judge(
            "x",
            LOWER_IS_BETTER,
            _series(rng, 1.0, 0.1, 5),
            _series(rng, 1.0, 0.1, 5),
            with_interval=False,
        ).is_regression
        for _ in range(trials)
    )
    # alpha plus three standard errors of the estimate from 1000 trials
    assert flagged / trials <= 0.05 + 3 * (0.05 * 0.95 / trials) ** 0.5


def test_too_few_samples_is_insufficient_not_a_verdict() -> None:
    out = v.judge("p99", LOWER_IS_BETTER, [1.0, 1.1], [2.0, 2.0, 2.0])
    assert out.decision == INSUFFICIENT and not out.is_regression


def test_any_loss_is_a_regression_without_statistics() -> None:
    assert v.judge("lost", MUST_BE_ZERO, [], [0, 1, 0]).is_regression
    assert not v.judge("lost", MUST_BE_ZERO, [], [0, 0]).is_regression


def test_family_of_metrics_keeps_the_run_false_alarm_rate_at_alpha() -> None:
    # 12 unchanged metrics per run: judged one by one, about 1 - 0.95^12 = 46% of
    # the runs would raise an alarm; judged as a family, at most alpha.
    rng = random.Random(9)
    trials, alone, family = 150, 0, 0
    for _ in range(trials):
        items = [
            (f"m{i}", LOWER_IS_BETTER, _series(rng, 1.0, 0.1, 10), _series(rng, 1.0, 0.1, 10))
            for i in range(12)
        ]
        alone += any(v.judge(*item, with_interval=False).is_regression for item in items)
        family += any(x.is_regression for x in v.judge_all(items, with_interval=False))
    assert alone / trials > 0.2
    assert family / trials <= 0.05 + 3 * (0.05 * 0.95 / trials) ** 0.5


def test_family_still_flags_a_clear_regression_and_says_so() -> None:
    rng = random.Random(10)
    items = [
        (f"m{i}", LOWER_IS_BETTER, _series(rng, 1.0, 0.02, 6), _series(rng, 1.0, 0.02, 6))
        for i in range(5)
    ]
    items.append(("slow", LOWER_IS_BETTER, _series(rng, 1.0, 0.02, 6), _series(rng, 1.2, 0.02, 6)))
    out = {x.metric: x for x in v.judge_all(items)}
    assert out["slow"].is_regression and "Holm, 6 metrics" in out["slow"].reason
    assert out["slow"].p_raw is not None and out["slow"].p_value >= out["slow"].p_raw  # type: ignore[operator]
    assert not any(out[f"m{i}"].is_regression for i in range(5))


def test_paired_rounds_see_a_10_percent_regression_through_drift() -> None:
    # Each round's level drifts by +-30% (a neighbour comes and goes); B is 10%
    # slower than A within each round, with 2% noise of its own.
    rng = random.Random(11)
    levels = [1 + rng.uniform(-0.3, 0.3) for _ in range(10)]
    a = [lv * (1 + rng.gauss(0, 0.02)) for lv in levels]
    b = [lv * 1.10 * (1 + rng.gauss(0, 0.02)) for lv in levels]
    paired = v.judge_paired("p99", LOWER_IS_BETTER, a, b)
    assert paired.is_regression and paired.effect == pytest.approx(0.10, abs=0.03)
    assert paired.ci_low is not None and paired.ci_low > 0.05


def test_paired_a_vs_a_is_not_flagged_and_throughput_direction_is_oriented() -> None:
    rng = random.Random(12)
    flagged = 0
    for _ in range(300):
        levels = [1 + rng.uniform(-0.3, 0.3) for _ in range(8)]
        a = [lv * (1 + rng.gauss(0, 0.03)) for lv in levels]
        b = [lv * (1 + rng.gauss(0, 0.03)) for lv in levels]
        flagged += v.judge_paired("rate", HIGHER_IS_BETTER, a, b, with_interval=False).is_regression
    assert flagged / 300 <= 0.05 + 3 * (0.05 * 0.95 / 300) ** 0.5
    a = [100.0, 90, 110, 95, 105, 100]
    worse = v.judge_paired("rate", HIGHER_IS_BETTER, a, [x * 0.8 for x in a])
    assert worse.is_regression and worse.effect == pytest.approx(0.2)


def test_paired_needs_matching_rounds_and_enough_of_them() -> None:
    with pytest.raises(ValueError):
        v.judge_paired("x", LOWER_IS_BETTER, [1, 2, 3], [1, 2])
    assert v.judge_paired("x", LOWER_IS_BETTER, [1, 2], [2, 3]).decision == INSUFFICIENT
    assert v.judge_paired("x", LOWER_IS_BETTER, [0, 2, 3], [2, 3, 4]).decision == INSUFFICIENT
    assert v.judge_paired("lost", MUST_BE_ZERO, [0, 0], [0, 1]).is_regression


def test_bootstrap_interval_is_reproducible() -> None:
    base, cand = [1.0, 1.1, 0.9, 1.05], [1.2, 1.3, 1.1, 1.25]
    a = v.judge("x", LOWER_IS_BETTER, base, cand)
    b = v.judge("x", LOWER_IS_BETTER, base, cand)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)


def test_bad_policy_is_rejected() -> None:
    with pytest.raises(ValueError):
        VerdictPolicy(alpha=0)
    with pytest.raises(ValueError):
        v.judge("x", "sideways", [1, 2, 3], [1, 2, 3])
