"""Deciding a threshold before the run ends: k6's abortOnFail (``--abort-on-fail``).

A partial run can lose a threshold for good only where later messages cannot
save it: a constant upper limit on a count that only grows, or on a latency
percentile whose final value is already bounded from below by the values in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from kafkaval.verdict import Check
from loadgen.threshold_expr import COMPARISONS, NotMeasured
from loadgen.thresholds import Threshold

# Counts that only grow during a run: a threshold capping one is lost the
# moment the live count passes the limit (--abort-on-fail).
MONOTONE_FIGURES = ("failed", "duplicates_consumed")
# A latency name (``e2e``, ...) -> its values so far, in seconds.
Samples = Callable[[str], "np.ndarray | Sequence[float]"]
# Latency statistics a partial run can already decide, by their nearest rank q.
EARLY_QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99, "p999": 0.999, "max": 1.0}


def _latency_of(figure: str | None) -> tuple[str, float] | None:
    """(latency name, nearest rank) of a percentile figure, None for anything else."""
    if figure is None or not figure.endswith(tuple(f".{s}" for s in EARLY_QUANTILES)):
        return None
    field, stat = figure.rsplit(".", 1)
    return field.removesuffix("_latency_seconds"), EARLY_QUANTILES[stat]


def _final_lower_bound(
    values: np.ndarray | Sequence[float], q: float, planned: int
) -> float | None:
    """The least the final nearest-rank ``q`` percentile can be, given ``values`` so far.

    The final set holds these values and at most ``planned`` in all. Its
    percentile is its (N - ceil(qN) + 1)-th largest value, a rank that grows
    with N, so it is at least the k-th largest value seen so far, k taken at
    N = planned. None while fewer than k values are in.
    """
    n = len(values)
    k = planned - max(1, math.ceil(q * planned)) + 1
    if planned < 1 or n < k or n > planned:
        return None
    return float(np.partition(np.asarray(values, dtype=float), n - k)[n - k])


def decidable_early(t: Threshold) -> bool:
    """Whether a partial run can lose ``t`` for good: a constant
    upper limit on a count that only grows, or on a latency percentile."""
    if not t.right.constant:
        return False
    if t.left.figure in MONOTONE_FIGURES:
        return t.op in ("<", "<=", "==")
    return _latency_of(t.left.figure) is not None and t.op in ("<", "<=")


def lost_early(
    t: Threshold,
    counts: Mapping[str, Any],
    samples: Samples | None = None,
    planned: int = 0,
) -> Check | None:
    """The failed check of ``t`` when the run so far already loses it, else None.

    Args:
        counts: the growing counts so far (``failed``, ``duplicates_consumed``).
        samples: a latency name (``e2e``, ...) -> its values so far, in seconds.
        planned: messages the run plans; no more latencies than that will come.
    """
    if not decidable_early(t):
        return None
    limit = t.right.compute(counts)
    latency = _latency_of(t.left.figure)
    if latency is None:
        try:
            value = t.left.compute(counts)
        except NotMeasured:
            return None
    else:
        if samples is None:
            return None
        name, q = latency
        found = _final_lower_bound(samples(name), q, planned)
        if found is None:
            return None
        value = found
    held = COMPARISONS[t.op](value, limit) if t.op != "==" else value <= limit
    if held:
        return None
    why = "lost before the end" + (
        f": the final value is at least {value:g} whatever comes" if latency else ""
    )
    return Check(t.name, limit, value, False, why, t.expr)


class AbortWatch:
    """k6's abortOnFail: stop the run once a threshold is lost for good.

    ``check`` is called with the live figures (about once a second); the first
    threshold they already lose is kept in ``lost`` and ``stop`` is called
    (it clears the run's running flag, as Ctrl-C does).
    """

    def __init__(self, thresholds: Mapping[str, Threshold], stop: Callable[[], None]) -> None:
        self.watched = [t for t in thresholds.values() if decidable_early(t)]
        self.stop = stop
        self.lost: Check | None = None

    @property
    def latencies(self) -> set[str]:
        """The latency names whose values ``check`` needs."""
        return {lat[0] for t in self.watched if (lat := _latency_of(t.left.figure))}

    def check(
        self,
        counts: Mapping[str, Any],
        samples: Samples | None = None,
        planned: int = 0,
    ) -> None:
        """Judge the run so far (see ``lost_early`` for the arguments)."""
        if self.lost is not None:
            return
        for t in self.watched:
            out = lost_early(t, counts, samples, planned)
            if out is not None:
                self.lost = out
                self.stop()
                return
