"""The statistics of the regression verdict: rank tests and the Holm adjustment."""

from __future__ import annotations

import random

import pytest

from scheduler import significance as sig


def test_exact_rank_sum_p_value() -> None:
    assert sig.rank_sum_p_value([4, 5, 6], [1, 2, 3]) == pytest.approx(1 / 20)
    assert sig.rank_sum_p_value([1, 2, 3], [4, 5, 6]) == pytest.approx(1.0)
    # all values tied: nothing can be concluded
    assert sig.rank_sum_p_value([1, 1, 1], [1, 1, 1]) == pytest.approx(1.0)


def test_rank_sum_with_ties_enumerates_every_split() -> None:
    # pooled [1,1,2,2,3,3] has mid-ranks 1.5, 3.5, 5.5; x = {2,3,3} sums to 14.5,
    # which of the 20 equally likely splits only {3,3,2} (either 2) reach: 2/20
    assert sig.rank_sum_p_value([2, 3, 3], [1, 1, 2]) == pytest.approx(2 / 20)


def test_normal_approximation_agrees_with_a_permutation_reference_for_large_samples() -> None:
    rng = random.Random(6)
    x = [round(rng.gauss(0.3, 1), 1) for _ in range(12)]  # rounded: ties
    y = [round(rng.gauss(0, 1), 1) for _ in range(12)]  # C(24,12) > limit: normal path
    p = sig.rank_sum_p_value(x, y)
    pooled, hits = x + y, 0
    stat = sum(a > b for a in x for b in y) + 0.5 * sum(a == b for a in x for b in y)
    for _ in range(4000):
        rng.shuffle(pooled)
        xs, ys = pooled[:12], pooled[12:]
        u = sum(a > b for a in xs for b in ys) + 0.5 * sum(a == b for a in xs for b in ys)
        hits += u >= stat
    assert p == pytest.approx(hits / 4000, abs=0.03)


def test_holm_adjusts_step_down() -> None:
    assert sig.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert sig.holm([]) == []


def test_signed_rank_p_value_exact() -> None:
    # 5 positive differences of distinct sizes: only 1 of 2^5 sign patterns is as extreme
    assert sig.signed_rank_p_value([0.1, 0.2, 0.15, 0.3, 0.12], "greater") == pytest.approx(1 / 32)
    assert sig.signed_rank_p_value([0.0, 0.0], "greater") == 1.0
