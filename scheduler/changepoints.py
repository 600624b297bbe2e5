"""Change points in a metric's history: E-Divisive means with a permutation test.

"Latest run vs baseline" asks whether today differs from a pinned past; a
history of scheduled runs can answer a better question: *where* did the
series step. E-Divisive means (Matteson & James 2014, "A nonparametric
approach for multiple change point analysis of multivariate data") is the
method MongoDB's CI (signal-processing) and Apache Otava / Hunter use for
exactly this job:

* the divergence of a split at ``tau`` of a segment is
  ``q = m k / (m + k) * (2 E|X - Y| - E|X - X'| - E|Y - Y'|)`` (energy
  distance with exponent 1 between the ``m`` points before and the ``k``
  points after); the best split of every current segment is found, and the
  best of those is the candidate;
* its significance is a permutation test: the points of each segment are
  shuffled within their segment and the best ``q`` recomputed; ``p`` is the
  share of shuffles at least as divergent (with the observed one counted);
* a significant candidate splits its segment and the search repeats; the
  first one that is not significant ends it.

Why not the ``otava`` (formerly ``hunter``) package itself: it pins an old
numpy and pulls cloud SDKs (its data sources); the algorithm is ~60 lines on
numpy, with the 2-D prefix sums making each split scan O(n^2).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence

import numpy as np

from scheduler.verdict_terms import (
    DEFAULT_POLICY,
    HIGHER_IS_BETTER,
    IMPROVEMENT,
    INSUFFICIENT,
    LOWER_IS_BETTER,
    NO_CHANGE,
    REGRESSION,
    MetricVerdict,
    VerdictPolicy,
)

# A segment shorter than this cannot be split (each side needs two points to
# have a within-side distance).
MIN_SIZE = 3
PERMUTATIONS = 199


@dataclasses.dataclass(frozen=True)
class ChangePoint:
    """A step in a series: the first index of the new level and its evidence.

    ``before``/``after`` are the medians of the segments on either side (up
    to the neighbouring change points); ``p_value`` the permutation test's.
    """

    index: int
    p_value: float
    before: float
    after: float

    @property
    def relative_change(self) -> float:
        """(after - before) / |before|; nan when before is 0."""
        return (self.after - self.before) / abs(self.before) if self.before else float("nan")


def _prefix(d: np.ndarray) -> np.ndarray:
    p = np.zeros((d.shape[0] + 1, d.shape[1] + 1))
    p[1:, 1:] = d.cumsum(0).cumsum(1)
    return p


def _best_split(d: np.ndarray, min_size: int) -> tuple[float, int]:
    """(q, tau) of the most divergent split of the segment with distance matrix ``d``."""
    n = d.shape[0]
    if n < 2 * min_size:
        return (-np.inf, -1)
    p = _prefix(d)
    tau = np.arange(min_size, n - min_size + 1)
    m, k = tau.astype(float), (n - tau).astype(float)
    within_left = p[tau, tau]
    within_right = p[n, n] - p[tau, n] - p[n, tau] + p[tau, tau]
    between = p[tau, n] - p[tau, tau]
    energy = 2 * between / (m * k) - within_left / (m * (m - 1)) - within_right / (k * (k - 1))
    q = m * k / (m + k) * energy
    best = int(np.argmax(q))
    return (float(q[best]), int(tau[best]))


def _best_over(
    d: np.ndarray, bounds: Sequence[tuple[int, int]], min_size: int
) -> tuple[float, int]:
    best = (-np.inf, -1)
    for start, end in bounds:
        q, tau = _best_split(d[start:end, start:end], min_size)
        if q > best[0]:
            best = (q, start + tau)
    return best


def e_divisive(
    series: Sequence[float],
    alpha: float = 0.05,
    permutations: int = PERMUTATIONS,
    min_size: int = MIN_SIZE,
    seed: int = 8,
) -> list[ChangePoint]:
    """Change points of ``series`` (oldest first), sorted by index.

    Args:
        series: one value per run.
        alpha: significance level of each permutation test.
        permutations: shuffles per test; the smallest possible p is
            ``1 / (permutations + 1)``, so it must be at least ``1/alpha - 1``.
        min_size: fewest points on either side of a change point.
        seed: RNG seed of the shuffles (the same series gives the same answer).

    Raises:
        ValueError: ``permutations`` too few to ever reach ``alpha``, or a
            ``min_size`` below 2.
    """
    if min_size < 2:
        raise ValueError("min_size must be >= 2")
    if (1 / (permutations + 1)) > alpha:
        raise ValueError(f"{permutations} permutations can never reach p <= {alpha}")
    x = np.asarray(series, dtype=float)
    d = np.abs(x[:, None] - x[None, :])
    rng = np.random.default_rng(seed)
    found: dict[int, float] = {}
    while True:
        cuts = [0, *sorted(found), len(x)]
        bounds = list(zip(cuts[:-1], cuts[1:], strict=True))
        q, tau = _best_over(d, bounds, min_size)
        if tau < 0 or not np.isfinite(q):
            break
        at_least = 1
        for _ in range(permutations):
            order = np.concatenate([start + rng.permutation(end - start) for start, end in bounds])
            at_least += _best_over(d[np.ix_(order, order)], bounds, min_size)[0] >= q
        p = at_least / (permutations + 1)
        if p > alpha:
            break
        found[tau] = p
    cuts = [0, *sorted(found), len(x)]
    return [
        ChangePoint(
            cut,
            found[cut],
            statistics.median(x[cuts[i] : cut].tolist()),
            statistics.median(x[cut : cuts[i + 2]].tolist()),
        )
        for i, cut in enumerate(cuts[1:-1])
    ]


def permutations_for(alpha: float, minimum: int = PERMUTATIONS) -> int:
    """Shuffles enough for a test at ``alpha`` to be passable with margin (p = alpha/2)."""
    return max(minimum, int(np.ceil(2 / alpha)) - 1)


# The runs a history verdict looks at: old steps age out of the decision.
HISTORY_RUNS = 30


def judge_history(
    series: Sequence[tuple[str, str, Sequence[float | None], Sequence[str]]],
    policy: VerdictPolicy = DEFAULT_POLICY,
) -> list[MetricVerdict]:
    """A verdict per metric from the change points of its history.

    Args:
        series: (metric, direction, one value per run oldest first with None
            where the run lacks it, the runs' ids) per metric.
        policy: ``min_effect`` is the smallest step that counts; ``alpha`` is
            the family-wise level over all metrics (Bonferroni: each metric's
            tests run at ``alpha / metrics``, and enough shuffles to reach it).

    The decision is the latest change point's: a regression when it made the
    metric worse by at least ``min_effect``; the reason names the run where
    the new level starts.
    """
    judged = [s for s in series if s[1] in (LOWER_IS_BETTER, HIGHER_IS_BETTER)]
    level = policy.alpha / max(1, len(judged))
    out = []
    for metric, direction, values, run_ids in judged:
        points = [(v, r) for v, r in zip(values, run_ids, strict=True) if v is not None]
        n = len(points)
        if n < 2 * MIN_SIZE:
            out.append(
                MetricVerdict(
                    metric,
                    direction,
                    INSUFFICIENT,
                    f"need >= {2 * MIN_SIZE} runs for a change point, have {n}",
                    n,
                    0,
                )
            )
            continue
        cps = e_divisive([v for v, _ in points], level, permutations_for(level), seed=policy.seed)
        out.append(_history_verdict(metric, direction, points, cps, policy))
    return out


def _history_verdict(
    metric: str,
    direction: str,
    points: Sequence[tuple[float, str]],
    cps: Sequence[ChangePoint],
    policy: VerdictPolicy,
) -> MetricVerdict:
    n = len(points)
    if not cps:
        return MetricVerdict(metric, direction, NO_CHANGE, f"no change point in {n} runs", n, 0)
    cp = cps[-1]
    sign = 1.0 if direction == LOWER_IS_BETTER else -1.0
    effect = sign * cp.relative_change
    where = f"from run {points[cp.index][1]} ({n - cp.index} of {n} runs)"
    if effect >= policy.min_effect:
        decision, reason = REGRESSION, f"step {effect:+.1%} worse {where}, p={cp.p_value:.3g}"
    elif effect <= -policy.min_effect:
        decision, reason = IMPROVEMENT, f"step {-effect:.1%} better {where}, p={cp.p_value:.3g}"
    else:
        decision = NO_CHANGE
        reason = f"step {effect:+.1%} {where} is below the {policy.min_effect:.0%} minimum effect"
    return MetricVerdict(
        metric,
        direction,
        decision,
        reason,
        cp.index,
        n - cp.index,
        cp.before,
        cp.after,
        effect,
        p_value=cp.p_value,
    )
