"""The regression verdict's terms: metric directions, decisions, the policy, one metric's verdict.

``scheduler/verdict.py`` judges into them; the comparison, change-point
detection, the A/B run and the benchmark read them.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Sequence

LOWER_IS_BETTER = "lower"
HIGHER_IS_BETTER = "higher"
MUST_BE_ZERO = "zero"

REGRESSION = "regression"
IMPROVEMENT = "improvement"
NO_CHANGE = "no change"
INSUFFICIENT = "insufficient data"


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
