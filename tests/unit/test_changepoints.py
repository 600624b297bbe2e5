"""Change points (E-Divisive means) on synthetic histories with known steps."""

from __future__ import annotations

import random

import pytest

from scheduler import changepoints as cp
from scheduler import verdict_terms as v


def _noise(rng: random.Random, center: float, cv: float, n: int) -> list[float]:
    return [center * (1 + rng.gauss(0, cv)) for _ in range(n)]


def test_no_change_is_not_flagged() -> None:
    flagged = 0
    for seed in range(20):
        rng = random.Random(seed)
        flagged += bool(cp.e_divisive(_noise(rng, 1.0, 0.05, 30), alpha=0.05, seed=seed))
    # each series is tested at 5%: about 1 in 20 may show a spurious step
    assert flagged <= 3


def test_a_15_percent_step_is_found_at_the_run_where_it_happened() -> None:
    rng = random.Random(1)
    series = _noise(rng, 1.0, 0.03, 18) + _noise(rng, 1.15, 0.03, 12)
    points = cp.e_divisive(series)
    assert [p.index for p in points] == [18]
    assert points[0].relative_change == pytest.approx(0.15, abs=0.03)
    assert points[0].p_value <= 0.05


def test_two_steps_are_both_found() -> None:
    rng = random.Random(2)
    series = _noise(rng, 1.0, 0.02, 12) + _noise(rng, 1.2, 0.02, 12) + _noise(rng, 0.9, 0.02, 12)
    assert [p.index for p in cp.e_divisive(series)] == [12, 24]


def test_a_step_inside_the_noise_is_not_flagged() -> None:
    # a 3% step under 15% run-to-run noise
    flagged = 0
    for seed in range(10):
        rng = random.Random(100 + seed)
        series = _noise(rng, 1.0, 0.15, 15) + _noise(rng, 1.03, 0.15, 15)
        flagged += bool(cp.e_divisive(series, seed=seed))
    assert flagged <= 2


def test_too_few_permutations_for_alpha_are_rejected() -> None:
    with pytest.raises(ValueError):
        cp.e_divisive([1.0] * 10, alpha=0.001, permutations=99)
    assert cp.permutations_for(0.001) >= 1999


def _ids(n: int) -> list[str]:
    return [f"run{i:02d}" for i in range(n)]


def test_history_verdict_names_the_run_and_orients_the_effect() -> None:
    rng = random.Random(3)
    slow = _noise(rng, 0.05, 0.03, 15) + _noise(rng, 0.0575, 0.03, 10)
    rate = _noise(rng, 1000, 0.03, 25)
    faster = _noise(rng, 1000, 0.03, 15) + _noise(rng, 1200, 0.03, 10)
    out = cp.judge_history(
        [
            ("p99", v.LOWER_IS_BETTER, slow, _ids(25)),
            ("rate", v.HIGHER_IS_BETTER, rate, _ids(25)),
            ("faster", v.HIGHER_IS_BETTER, faster, _ids(25)),
            ("short", v.LOWER_IS_BETTER, [1.0, None, 2.0], _ids(3)),
            ("lost", v.MUST_BE_ZERO, [0, 0], _ids(2)),
        ]
    )
    by = {x.metric: x for x in out}
    assert set(by) == {"p99", "rate", "faster", "short"}  # loss is not a series question
    assert by["p99"].is_regression and "from run run15" in by["p99"].reason
    assert by["p99"].effect == pytest.approx(0.15, abs=0.04)
    assert by["rate"].decision == v.NO_CHANGE
    assert by["faster"].decision == v.IMPROVEMENT
    assert by["short"].decision == v.INSUFFICIENT


def test_history_family_wise_level_over_many_quiet_metrics() -> None:
    rng = random.Random(4)
    series = [(f"m{i}", v.LOWER_IS_BETTER, _noise(rng, 1.0, 0.1, 20), _ids(20)) for i in range(10)]
    policy = v.VerdictPolicy(min_effect=0.0)  # any step counts: the test alone decides
    assert not any(x.is_regression for x in cp.judge_history(series, policy))
