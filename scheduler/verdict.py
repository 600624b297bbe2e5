"""The noise-aware regression verdict for one metric: baseline samples vs candidate samples.

A single run on a shared machine is noisy, so a fixed "10% worse" rule on one
run raises false alarms. The verdict uses every repetition and flags a
regression only when both hold:

* the change is large enough to matter: the relative change of the medians,
  oriented so that positive means worse, is at least ``min_effect``;
* the change is statistically clear: a one-sided Mann-Whitney rank test
  (exact permutation distribution of the rank sum for small samples, the
  normal approximation with tie correction for large ones) gives
  ``p <= alpha`` for "the candidate is worse".

The rank test decides because it is exact for the tiny samples we have (3-10
repetitions) and is free of distribution assumptions; latency percentiles are
skewed. The bootstrap interval of the relative difference of medians is
reported next to it so a reader sees how uncertain the effect is; it uses a
seeded RNG, so the same samples always give the same report.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import itertools
import math
import random
import statistics
from collections.abc import Sequence

LOWER_IS_BETTER = "lower"
HIGHER_IS_BETTER = "higher"
MUST_BE_ZERO = "zero"

REGRESSION = "regression"
IMPROVEMENT = "improvement"
NO_CHANGE = "no change"
INSUFFICIENT = "insufficient data"

# Exact enumeration of rank-sum splits up to this many; beyond, the normal
# approximation is accurate (both groups are then large enough).
_EXACT_LIMIT = 20_000


@dataclasses.dataclass(frozen=True)
class VerdictPolicy:
    """How strict the verdict is.

    Attributes:
        min_effect: smallest relative worsening that counts (0.05 = 5%).
        alpha: significance level of the one-sided rank test.
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


@dataclasses.dataclass(frozen=True)
class MetricVerdict:
    """The decision for one metric with the numbers behind it.

    ``effect`` and the interval are relative changes of the median oriented
    so that positive means worse (slower, less throughput); None where not
    defined (absolute rules, too few samples).
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

    @property
    def is_regression(self) -> bool:
        return self.decision == REGRESSION

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def judge(
    metric: str,
    direction: str,
    baseline: Sequence[float],
    candidate: Sequence[float],
    policy: VerdictPolicy = DEFAULT_POLICY,
    with_interval: bool = True,
) -> MetricVerdict:
    """Decide whether ``candidate`` is a regression from ``baseline``.

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
    base = [float(x) for x in baseline]
    cand = [float(x) for x in candidate]
    nb, nc = len(base), len(cand)
    if direction == MUST_BE_ZERO:
        worst = max(cand, default=0.0)
        if worst > 0:
            return MetricVerdict(
                metric,
                direction,
                REGRESSION,
                f"{worst:g} must be 0",
                nb,
                nc,
                candidate_median=statistics.median(cand),
            )
        return MetricVerdict(metric, direction, NO_CHANGE, "0 as required", nb, nc)
    if direction not in (LOWER_IS_BETTER, HIGHER_IS_BETTER):
        raise ValueError(f"unknown direction {direction!r}")
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
    sign = 1.0 if direction == LOWER_IS_BETTER else -1.0
    effect = relative_change(mb, mc, sign)
    # Orient both samples so that larger means worse; the rank test is one-sided.
    worse_b = [sign * x for x in base]
    worse_c = [sign * x for x in cand]
    p_worse = rank_sum_p_value(worse_c, worse_b)
    ci_low = ci_high = None
    if with_interval and policy.resamples:
        ci_low, ci_high = bootstrap_interval(base, cand, sign, policy)
    if effect >= policy.min_effect and p_worse <= policy.alpha:
        decision = REGRESSION
        reason = f"{effect:+.1%} worse (>= {policy.min_effect:.0%}), p={p_worse:.3g}"
        p_value = p_worse
    else:
        p_better = rank_sum_p_value(worse_b, worse_c)
        if effect <= -policy.min_effect and p_better <= policy.alpha:
            decision, p_value = IMPROVEMENT, p_better
            reason = f"{-effect:.1%} better, p={p_better:.3g}"
        else:
            decision, p_value = NO_CHANGE, p_worse
            reason = _why_no_change(effect, p_worse, policy)
    return MetricVerdict(
        metric, direction, decision, reason, nb, nc, mb, mc, effect, ci_low, ci_high, p_value
    )


def _why_no_change(effect: float, p: float, policy: VerdictPolicy) -> str:
    if abs(effect) < policy.min_effect:
        return f"{effect:+.1%} is below the {policy.min_effect:.0%} minimum effect"
    return f"{effect:+.1%} is within the noise (p={p:.3g} > {policy.alpha})"


def relative_change(baseline_median: float, candidate_median: float, sign: float) -> float:
    """(candidate - baseline) / |baseline|, times ``sign`` (+1: lower is better)."""
    return sign * (candidate_median - baseline_median) / abs(baseline_median)


def bootstrap_interval(
    base: Sequence[float], cand: Sequence[float], sign: float, policy: VerdictPolicy
) -> tuple[float, float]:
    """Two-sided (1 - alpha) percentile bootstrap interval of the relative median change.

    Each resample draws both groups with replacement, independently; a
    resample whose baseline median is 0 is skipped.
    """
    rng = random.Random(policy.seed)
    effects = []
    for _ in range(policy.resamples):
        mb = statistics.median(rng.choices(base, k=len(base)))
        if mb == 0:
            continue
        mc = statistics.median(rng.choices(cand, k=len(cand)))
        effects.append(relative_change(mb, mc, sign))
    if not effects:
        return (math.nan, math.nan)
    effects.sort()
    lo = effects[int(math.floor(policy.alpha / 2 * (len(effects) - 1)))]
    hi = effects[int(math.ceil((1 - policy.alpha / 2) * (len(effects) - 1)))]
    return (lo, hi)


def _ranks(values: Sequence[float]) -> list[float]:
    """Mid-ranks (1-based), ties share the mean of their positions."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def rank_sum_p_value(x: Sequence[float], y: Sequence[float]) -> float:
    """One-sided Mann-Whitney p-value for "x tends to be larger than y".

    Exact (all splits of the pooled mid-ranks enumerated, so ties are handled
    exactly) when there are at most 20,000 splits, else the normal
    approximation with tie and continuity corrections.
    """
    n, m = len(x), len(y)
    if n == 0 or m == 0:
        return 1.0
    ranks = _ranks([*x, *y])
    observed = sum(ranks[:n])
    eps = 1e-9  # rank sums are multiples of 0.5; compare with a tolerance
    if math.comb(n + m, n) <= _EXACT_LIMIT:
        total = at_least = 0
        for combo in itertools.combinations(ranks, n):
            total += 1
            if sum(combo) >= observed - eps:
                at_least += 1
        return at_least / total
    big_n = n + m
    mean = n * (big_n + 1) / 2
    ties = _tie_term(ranks)
    var = n * m / 12 * ((big_n + 1) - ties / (big_n * (big_n - 1)))
    if var <= 0:
        return 1.0
    z = (observed - mean - 0.5) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


def _tie_term(ranks: Sequence[float]) -> float:
    counts: dict[float, int] = {}
    for r in ranks:
        counts[r] = counts.get(r, 0) + 1
    return float(sum(t**3 - t for t in counts.values()))
