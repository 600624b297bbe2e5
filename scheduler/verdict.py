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

Two designs are judged (the tests are ``scheduler/significance.py``'s):

* independent samples (repeated runs vs a baseline, ``judge``/``judge_all``):
  the Mann-Whitney U test, exact for the tiny samples we have (3-10
  repetitions) and free of distribution assumptions (latency percentiles are
  skewed);
* paired rounds (interleaved A/B, ``judge_paired``): the Wilcoxon
  signed-rank test on the per-round relative differences B vs A, which
  cancels what drifts slowly and hits both sides of a round alike.

The percentile bootstrap interval (seeded) of the effect is reported next to
the decision so a reader sees how uncertain the effect is; it does not decide.
The terms (directions, decisions, ``VerdictPolicy``, ``MetricVerdict``) are
``scheduler/verdict_terms.py``'s.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence

from scheduler.significance import (
    Interval,
    bootstrap_interval,
    holm,
    paired_bootstrap_interval,
    rank_sum_p_value,
    relative_change,
    signed_rank_p_value,
)
from scheduler.verdict_terms import (
    DEFAULT_POLICY,
    HIGHER_IS_BETTER,
    IMPROVEMENT,
    INSUFFICIENT,
    LOWER_IS_BETTER,
    MUST_BE_ZERO,
    NO_CHANGE,
    REGRESSION,
    MetricVerdict,
    VerdictPolicy,
)


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
    ci: Interval
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
    ci: Interval = (None, None)
    if with_interval and policy.resamples:
        ci = bootstrap_interval(base, cand, sign, policy.resamples, 1 - policy.alpha, policy.seed)
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
    ci: Interval = (None, None)
    if with_interval and policy.resamples:
        ci = paired_bootstrap_interval(diffs, policy.resamples, 1 - policy.alpha, policy.seed)
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
