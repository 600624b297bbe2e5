"""Compare a candidate run with the baseline, metric by metric, and format the result."""

from __future__ import annotations

from collections.abc import Sequence

from kafkaval.record_types import SuiteRecord
from scheduler.metrics_extract import extract
from scheduler.verdict import Item, judge_all
from scheduler.verdict_terms import (
    DEFAULT_POLICY,
    INSUFFICIENT,
    LOWER_IS_BETTER,
    MUST_BE_ZERO,
    MetricVerdict,
    VerdictPolicy,
)


def compare(
    baseline_records: Sequence[SuiteRecord],
    candidate_records: Sequence[SuiteRecord],
    policy: VerdictPolicy = DEFAULT_POLICY,
) -> list[MetricVerdict]:
    """A verdict for every metric of the candidate, sorted by name.

    The p-values are adjusted together (Holm) over every metric judged, so
    the policy's alpha is the run's false-alarm rate, not each metric's.
    A metric the baseline lacks is "insufficient data", except the must-be-zero
    counts (acked loss), which need no baseline. Metrics outside the policy's
    ``metrics`` selection are left out.
    """
    base = extract(baseline_records)
    cand = extract(candidate_records)
    out: list[MetricVerdict] = []
    items: list[Item] = []
    for name in sorted(cand):
        c = cand[name]
        if not policy.judges(name, c.direction):
            continue
        b = base.get(name)
        if b is None and c.direction != MUST_BE_ZERO:
            out.append(
                MetricVerdict(
                    name, c.direction, INSUFFICIENT, "not in the baseline", 0, len(c.values)
                )
            )
            continue
        items.append((name, c.direction, b.values if b else [], c.values))
    out = sorted([*out, *judge_all(items, policy)], key=lambda v: v.metric)
    # A pattern that matches nothing is most likely a typo: say so in the table
    # rather than judging nothing and reporting "ok".
    for pattern in policy.unmatched(list(cand)):
        out.append(MetricVerdict(pattern, LOWER_IS_BETTER, INSUFFICIENT, "matches no metric", 0, 0))
    return out


def regressions(verdicts: Sequence[MetricVerdict]) -> list[MetricVerdict]:
    return [v for v in verdicts if v.is_regression]


def format_table(verdicts: Sequence[MetricVerdict]) -> str:
    """A fixed-width table: metric, medians, effect, interval, p, decision."""
    header = (
        f"{'metric':<46} {'baseline':>10} {'run':>10} {'effect':>8} "
        f"{'interval':>17} {'p':>7}  decision"
    )
    lines = [header, "-" * len(header)]
    for v in verdicts:
        interval = (
            f"[{v.ci_low:+.1%},{v.ci_high:+.1%}]"
            if v.ci_low is not None and v.ci_high is not None
            else ""
        )
        lines.append(
            f"{v.metric:<46} {_num(v.baseline_median):>10} {_num(v.candidate_median):>10} "
            f"{'' if v.effect is None else f'{v.effect:+.1%}':>8} {interval:>17} "
            f"{'' if v.p_value is None else f'{v.p_value:.3g}':>7}  {v.decision}: {v.reason}"
        )
    return "\n".join(lines)


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.4g}"
