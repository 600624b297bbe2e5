"""The statistics behind the regression verdict: rank tests, Holm, the bootstrap.

Pure functions of samples; what counts as a regression is ``scheduler/verdict.py``'s.

* ``rank_sum_p_value``: scipy's one-sided Mann-Whitney U test, exact for the
  tiny samples we have (3-10 repetitions) and free of distribution
  assumptions (latency percentiles are skewed). With ties the exact U
  distribution does not hold; the permutation distribution of the same
  statistic is then enumerated (or, past ``_TIES_EXACT_LIMIT`` splits, the
  normal approximation with tie correction);
* ``signed_rank_p_value``: scipy's Wilcoxon signed-rank test on paired
  differences;
* ``holm``: the Holm-Bonferroni family-wise adjustment;
* ``bootstrap_interval`` / ``paired_bootstrap_interval``: seeded percentile
  bootstrap intervals (scipy.stats.bootstrap) of the relative median change.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats

# Exact tests up to this many splits (sign flips for paired rounds); beyond,
# the normal approximation is accurate (both groups are then large enough).
_EXACT_LIMIT = 20_000
# With ties, scipy enumerates the permutation distribution one split at a
# time (about 6 us each); up to this many splits (10 vs 4 samples). Beyond,
# the tie-corrected normal approximation stayed within 0.006-0.017 of the
# permutation p where p < 0.2 (rounded normal samples, 10 vs 5 to 16 vs 8).
_TIES_EXACT_LIMIT = 1_001

# A bootstrap interval's bounds; None where the interval is not defined.
Interval = tuple[float | None, float | None]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given.

    Rejecting every hypothesis whose adjusted p is <= alpha keeps the chance
    of any false rejection among them at or below alpha, whatever their
    dependence (the metrics of one run are correlated: a slow run is slow
    everywhere), and is uniformly more powerful than plain Bonferroni.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out


def relative_change(baseline_median: float, candidate_median: float, sign: float) -> float:
    """(candidate - baseline) / |baseline|, times ``sign`` (+1: lower is better)."""
    return sign * (candidate_median - baseline_median) / abs(baseline_median)


def bootstrap_interval(
    base: Sequence[float],
    cand: Sequence[float],
    sign: float,
    resamples: int,
    confidence: float,
    seed: int,
) -> Interval:
    """Two-sided ``confidence`` percentile bootstrap interval of the relative median change.

    Each resample draws both groups with replacement, independently; None
    bounds when the interval is not defined (resampled baseline medians of 0).
    """

    def change(b: np.ndarray, c: np.ndarray, axis: int) -> np.ndarray:
        mb = np.median(b, axis=axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            return sign * (np.median(c, axis=axis) - mb) / np.abs(mb)

    return _bootstrap((base, cand), change, resamples, confidence, seed)


def paired_bootstrap_interval(
    diffs: Sequence[float], resamples: int, confidence: float, seed: int
) -> Interval:
    """Two-sided ``confidence`` percentile bootstrap interval of the median of ``diffs``."""
    return _bootstrap(
        (diffs,), lambda d, axis: np.median(d, axis=axis), resamples, confidence, seed
    )


def _bootstrap(
    data: tuple[Sequence[float], ...],
    statistic: object,
    resamples: int,
    confidence: float,
    seed: int,
) -> Interval:
    with warnings.catch_warnings():
        # All resamples equal (identical samples) is a valid, degenerate interval.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(
            tuple(np.asarray(d, dtype=float) for d in data),
            statistic,  # type: ignore[arg-type]
            n_resamples=resamples,
            vectorized=True,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return (None, None)
    return (lo, hi)


def rank_sum_p_value(x: Sequence[float], y: Sequence[float]) -> float:
    """One-sided Mann-Whitney p-value for "x tends to be larger than y" (scipy).

    Exact: scipy's exact U distribution without ties (up to ``_EXACT_LIMIT``
    splits); with ties, every split of the pooled samples enumerated (scipy's
    permutation method) up to ``_TIES_EXACT_LIMIT`` splits; else the normal
    approximation with tie and continuity corrections.
    """
    n, m = len(x), len(y)
    pooled = [*x, *y]
    if n == 0 or m == 0 or min(pooled) == max(pooled):
        return 1.0
    splits = math.comb(n + m, n)
    method: object = "asymptotic"
    if len(set(pooled)) < len(pooled):
        if splits <= _TIES_EXACT_LIMIT:
            method = stats.PermutationMethod(n_resamples=splits)
    elif splits <= _EXACT_LIMIT:
        method = "exact"
    return float(stats.mannwhitneyu(x, y, alternative="greater", method=method).pvalue)  # type: ignore[arg-type]


def signed_rank_p_value(diffs: Sequence[float], alternative: str) -> float:
    """One-sided Wilcoxon signed-rank p-value that the differences lean ``alternative``.

    ``alternative`` is "greater" or "less". Zero differences carry no sign
    and are dropped (Wilcoxon's own rule); exact up to ``_EXACT_LIMIT`` sign
    flips (with ties among the absolute differences every flip enumerated by
    scipy's permutation method); else the normal approximation.
    """
    nonzero = [d for d in diffs if d != 0]
    if not nonzero:
        return 1.0
    flips = 2 ** len(nonzero)
    method: object = "asymptotic"
    if len({abs(d) for d in nonzero}) < len(nonzero):
        # Sign flips are cheap to enumerate (unlike rank-sum splits), and at
        # 10 rounds the normal approximation cannot reach p = 2^-10.
        if flips <= _EXACT_LIMIT:
            method = stats.PermutationMethod(n_resamples=flips)
    elif flips <= _EXACT_LIMIT:
        method = "exact"
    res = stats.wilcoxon(nonzero, alternative=alternative, method=method)  # type: ignore[call-overload]
    return float(res.pvalue)
