"""The noise-aware regression verdict: baseline samples vs candidate samples, per metric.

A single run on a shared machine is noisy, so a fixed "10% worse" rule on one
run raises false alarms. The verdict uses every repetition and flags a
regression only when both hold:

* the change is large enough to matter: the relative change of the medians,
  oriented so that positive means worse, is at least ``min_effect``;
* the change is statistically clear: a one-sided rank test gives
  ``p <= alpha`` for "the candidate is worse" after the family-wise
  correction over every metric judged in the same run (Holm-Bonferroni), so
  ``alpha`` bounds the chance that a run with no change raises any alarm,
  not the chance per metric.

Two designs are judged:

* independent samples (repeated runs vs a baseline, ``judge``/``judge_all``):
  scipy's Mann-Whitney U test, exact for the tiny samples we have (3-10
  repetitions) and free of distribution assumptions (latency percentiles are
  skewed). With ties the exact U distribution does not hold; the permutation
  distribution of the same statistic is then enumerated (or, past
  ``_EXACT_LIMIT`` splits, the normal approximation with tie correction);
* paired rounds (interleaved A/B, ``judge_paired``): scipy's Wilcoxon
  signed-rank test on the per-round relative differences B vs A, which
  cancels what drifts slowly and hits both sides of a round alike.

The percentile bootstrap interval (scipy.stats.bootstrap, seeded) of the
effect is reported next to the decision so a reader sees how uncertain the
effect is; it does not decide.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import statistics
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats

LOWER_IS_BETTER = "lower"
HIGHER_IS_BETTER = "higher"
MUST_BE_ZERO = "zero"

REGRESSION = "regression"
IMPROVEMENT = "improvement"
NO_CHANGE = "no change"
INSUFFICIENT = "insufficient data"

# Exact tests up to this many splits (sign flips for paired rounds); beyond,
# the normal approximation is accurate (both groups are then large enough).
_EXACT_LIMIT = 20_000
# With ties, scipy enumerates the permutation distribution one split at a
# time (about 6 us each); up to this many splits (10 vs 4 samples). Beyond,
# the tie-corrected normal approximation stayed within 0.006-0.017 of the
# permutation p where p < 0.2 (rounded normal samples, 10 vs 5 to 16 vs 8).
_TIES_EXACT_LIMIT = 1_001


@dataclasses.dataclass(frozen=True)
class VerdictPolicy:
    """How strict the verdict is.

    Attributes:
        min_effect: smallest relative worsening that counts (0.05 = 5%).
        alpha: family-wise significance level: the chance that a run without
            any change flags at least one of its judged metrics.
        resamples: bootstrap resamples for the reported interval.
        seed: RNG seed of the bootstrap, for reproducible reports.
        min_samples: fewer samples on either side give "insufficient data".
        metrics: shell-style patterns of the metric names judged (empty: all).
            Must-be-zero counts (acked loss) are judged whatever the patterns.
    """

    min_effect: float = 0.05
    alpha: float = 0.05
    resamples: int = 2000
    seed: int = 8
    min_samples: int = 3
    metrics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Above 1 only a latency can reach it (2x slower); a rate can lose at most 100%.
        if not 0 <= self.min_effect < 10:
            raise ValueError(f"min_effect must be in [0, 10), not {self.min_effect}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), not {self.alpha}")
        if self.resamples < 0 or self.min_samples < 1:
            raise ValueError("resamples must be >= 0 and min_samples >= 1")

    def judges(self, metric: str, direction: str) -> bool:
        """Whether ``metric`` is judged under the ``metrics`` selection."""
        if not self.metrics or direction == MUST_BE_ZERO:
            return True
        return any(fnmatch.fnmatchcase(metric, pattern) for pattern in self.metrics)

    def unmatched(self, metrics: Sequence[str]) -> list[str]:
        """The ``metrics`` patterns that match none of ``metrics`` (typos, most likely)."""
        return [p for p in self.metrics if not any(fnmatch.fnmatchcase(m, p) for m in metrics)]


DEFAULT_POLICY = VerdictPolicy()


# Not a kafkaval.verdict.Check: a three-way comparison where "insufficient data" is no failure.
@dataclasses.dataclass(frozen=True)
class MetricVerdict:
    """The decision for one metric with the numbers behind it.

    ``effect`` and the interval are relative changes of the median oriented
    so that positive means worse (slower, less throughput); None where not
    defined (absolute rules, too few samples). For paired rounds ``effect`` is
    the median of the per-round relative differences and the "medians" are
    the medians of A's and B's rounds. ``p_value`` is the family-wise
    adjusted p of the reported direction, ``p_raw`` the test's own.
    """

    metric: str
    direction: str
    decision: str
    reason: str
    n_baseline: int
    n_candidate: int
    baseline_median: float | None = None
    candidate_median: float | None = None
    effect: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    p_raw: float | None = None

    @property
    def is_regression(self) -> bool:
        return self.decision == REGRESSION

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class _Tested:
    """One metric's statistics before the family-wise decision."""

    metric: str
    direction: str
    n_baseline: int
    n_candidate: int
    baseline_median: float
    candidate_median: float
    effect: float
    ci: tuple[float | None, float | None]
    p_worse: float
    p_better: float


# One judged metric: (name, direction, baseline or A samples, candidate or B samples).
Item = tuple[str, str, Sequence[float], Sequence[float]]


def judge(
    metric: str,
    direction: str,
    baseline: Sequence[float],
    candidate: Sequence[float],
    policy: VerdictPolicy = DEFAULT_POLICY,
    with_interval: bool = True,
) -> MetricVerdict:
    """Decide whether ``candidate`` is a regression from ``baseline`` (a family of one).

    Args:
        metric: name, copied into the result.
        direction: LOWER_IS_BETTER, HIGHER_IS_BETTER or MUST_BE_ZERO (any
            candidate sample above 0 is a regression, no statistics needed).
        baseline: the baseline's samples (every repetition).
        candidate: the candidate run's samples.
        policy: thresholds.
        with_interval: compute the bootstrap interval (the decision does not
            use it; the regression benchmark skips it for speed).

    Raises:
        ValueError: unknown direction.
    """
    return judge_all([(metric, direction, baseline, candidate)], policy, with_interval)[0]


def judge_all(
    items: Sequence[Item], policy: VerdictPolicy = DEFAULT_POLICY, with_interval: bool = True
) -> list[MetricVerdict]:
    """Verdicts of independent samples for every metric of one run, in the order given.

    The p-values are Holm-adjusted over every metric that got a rank test, so
    ``policy.alpha`` bounds the chance of any false alarm in the run.

    Raises:
        ValueError: unknown direction.
    """
    return _decide_family(
        [_test_independent(*item, policy, with_interval) for item in items], policy
    )


def judge_paired(
    metric: str,
    direction: str,
    a: Sequence[float],
    b: Sequence[float],
    policy: VerdictPolicy = DEFAULT_POLICY,
    with_interval: bool = True,
) -> MetricVerdict:
    """Decide whether B is a regression from A on paired rounds (a family of one).

    ``a[i]`` and ``b[i]`` were measured in the same round (back to back).

    Raises:
        ValueError: unknown direction, or A and B have a different number of rounds.
    """
    return judge_paired_all([(metric, direction, a, b)], policy, with_interval)[0]


def judge_paired_all(
    items: Sequence[Item], policy: VerdictPolicy = DEFAULT_POLICY, with_interval: bool = True
) -> list[MetricVerdict]:
    """Paired verdicts (B vs A, round by round) for every metric, Holm-adjusted together.

    Raises:
        ValueError: unknown direction, or A and B have a different number of rounds.
    """
    return _decide_family([_test_paired(*item, policy, with_interval) for item in items], policy)


def _must_be_zero(metric: str, cand: Sequence[float], nb: int) -> MetricVerdict:
    nc = len(cand)
    worst = max(cand, default=0.0)
    if worst > 0:
        return MetricVerdict(
            metric,
            MUST_BE_ZERO,
            REGRESSION,
            f"{worst:g} must be 0",
            nb,
            nc,
            candidate_median=statistics.median(cand),
        )
    return MetricVerdict(metric, MUST_BE_ZERO, NO_CHANGE, "0 as required", nb, nc)


def _sign(direction: str) -> float:
    if direction not in (LOWER_IS_BETTER, HIGHER_IS_BETTER):
        raise ValueError(f"unknown direction {direction!r}")
    return 1.0 if direction == LOWER_IS_BETTER else -1.0


def _test_independent(
    metric: str,
    direction: str,
    baseline: Sequence[float],
    candidate: Sequence[float],
    policy: VerdictPolicy,
    with_interval: bool,
) -> MetricVerdict | _Tested:
    base = [float(x) for x in baseline]
    cand = [float(x) for x in candidate]
    nb, nc = len(base), len(cand)
    if direction == MUST_BE_ZERO:
        return _must_be_zero(metric, cand, nb)
    sign = _sign(direction)
    if nb < policy.min_samples or nc < policy.min_samples:
        return MetricVerdict(
            metric,
            direction,
            INSUFFICIENT,
            f"need >= {policy.min_samples} samples each, have {nb} baseline / {nc} candidate",
            nb,
            nc,
        )
    mb, mc = statistics.median(base), statistics.median(cand)
    if mb == 0:
        return MetricVerdict(
            metric,
            direction,
            INSUFFICIENT,
            "baseline median is 0: no relative change",
            nb,
            nc,
            mb,
            mc,
        )
    # Orient both samples so that larger means worse; the rank test is one-sided.
    worse_b = [sign * x for x in base]
    worse_c = [sign * x for x in cand]
    ci: tuple[float | None, float | None] = (None, None)
    if with_interval and policy.resamples:
        ci = bootstrap_interval(base, cand, sign, policy)
    return _Tested(
        metric,
        direction,
        nb,
        nc,
        mb,
        mc,
        relative_change(mb, mc, sign),
        ci,
        rank_sum_p_value(worse_c, worse_b),
        rank_sum_p_value(worse_b, worse_c),
    )


def _test_paired(
    metric: str,
    direction: str,
    a: Sequence[float],
    b: Sequence[float],
    policy: VerdictPolicy,
    with_interval: bool,
) -> MetricVerdict | _Tested:
    xa = [float(x) for x in a]
    xb = [float(x) for x in b]
    if len(xa) != len(xb):
        raise ValueError(f"{metric}: A has {len(xa)} rounds, B {len(xb)}: rounds must pair")
    n = len(xa)
    if direction == MUST_BE_ZERO:
        return _must_be_zero(metric, xb, n)
    sign = _sign(direction)
    if n < policy.min_samples:
        return MetricVerdict(
            metric,
            direction,
            INSUFFICIENT,
            f"need >= {policy.min_samples} rounds, have {n}",
            n,
            n,
        )
    if any(x == 0 for x in xa):
        return MetricVerdict(
            metric, direction, INSUFFICIENT, "A is 0 in a round: no relative change", n, n
        )
    diffs = [relative_change(x, y, sign) for x, y in zip(xa, xb, strict=True)]
    ci: tuple[float | None, float | None] = (None, None)
    if with_interval and policy.resamples:
        ci = _bootstrap((diffs,), lambda d, axis: np.median(d, axis=axis), policy, "paired rounds")
    return _Tested(
        metric,
        direction,
        n,
        n,
        statistics.median(xa),
        statistics.median(xb),
        statistics.median(diffs),
        ci,
        signed_rank_p_value(diffs, "greater"),
        signed_rank_p_value(diffs, "less"),
    )


def _decide_family(
    tested: Sequence[MetricVerdict | _Tested], policy: VerdictPolicy
) -> list[MetricVerdict]:
    judged = [t for t in tested if isinstance(t, _Tested)]
    worse = dict(zip(map(id, judged), holm([t.p_worse for t in judged]), strict=True))
    better = dict(zip(map(id, judged), holm([t.p_better for t in judged]), strict=True))
    family = len(judged)
    return [
        t
        if isinstance(t, MetricVerdict)
        else _decide(t, worse[id(t)], better[id(t)], family, policy)
        for t in tested
    ]


def _decide(
    t: _Tested, p_worse: float, p_better: float, family: int, policy: VerdictPolicy
) -> MetricVerdict:
    of = f" (Holm, {family} metrics)" if family > 1 else ""
    if t.effect >= policy.min_effect and p_worse <= policy.alpha:
        decision, p, raw = REGRESSION, p_worse, t.p_worse
        reason = f"{t.effect:+.1%} worse (>= {policy.min_effect:.0%}), p={p_worse:.3g}{of}"
    elif t.effect <= -policy.min_effect and p_better <= policy.alpha:
        decision, p, raw = IMPROVEMENT, p_better, t.p_better
        reason = f"{-t.effect:.1%} better, p={p_better:.3g}{of}"
    else:
        decision, p, raw = NO_CHANGE, p_worse, t.p_worse
        if abs(t.effect) < policy.min_effect:
            reason = f"{t.effect:+.1%} is below the {policy.min_effect:.0%} minimum effect"
        else:
            reason = f"{t.effect:+.1%} is within the noise (p={p_worse:.3g} > {policy.alpha}{of})"
    return MetricVerdict(
        t.metric,
        t.direction,
        decision,
        reason,
        t.n_baseline,
        t.n_candidate,
        t.baseline_median,
        t.candidate_median,
        t.effect,
        t.ci[0],
        t.ci[1],
        p,
        raw,
    )


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
    base: Sequence[float], cand: Sequence[float], sign: float, policy: VerdictPolicy
) -> tuple[float | None, float | None]:
    """Two-sided (1 - alpha) percentile bootstrap interval of the relative median change.

    Each resample draws both groups with replacement, independently; None
    bounds when the interval is not defined (resampled baseline medians of 0).
    """

    def change(b: np.ndarray, c: np.ndarray, axis: int) -> np.ndarray:
        mb = np.median(b, axis=axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            return sign * (np.median(c, axis=axis) - mb) / np.abs(mb)

    return _bootstrap((base, cand), change, policy, "independent samples")


def _bootstrap(
    data: tuple[Sequence[float], ...], statistic: object, policy: VerdictPolicy, what: str
) -> tuple[float | None, float | None]:
    with warnings.catch_warnings():
        # All resamples equal (identical samples) is a valid, degenerate interval.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(
            tuple(np.asarray(d, dtype=float) for d in data),
            statistic,  # type: ignore[arg-type]
            n_resamples=policy.resamples,
            vectorized=True,
            confidence_level=1 - policy.alpha,
            method="percentile",
            rng=np.random.default_rng(policy.seed),
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
