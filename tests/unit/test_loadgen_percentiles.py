"""Exact percentiles and the histogram bucket error bound."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from kafkaval.histogram import BUCKET_ERROR_BOUND, BUCKETS_SECONDS, bucket_counts
from loadgen.recorder import percentile_nearest_rank, summarize_us


def _reference(values: list[int], q: float) -> int:
    # Textbook nearest rank on a plainly sorted list.
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@pytest.mark.parametrize("n", [1, 2, 3, 10, 99, 100, 1000, 12345])
def test_percentiles_match_sorted_reference(n: int) -> None:
    rng = random.Random(n)
    values = [rng.randrange(0, 10_000_000) for _ in range(n)]
    summary = summarize_us(values)
    for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)):
        assert summary[key] == _reference(values, q) / 1e6, key
    assert summary["max"] == max(values) / 1e6
    assert summary["count"] == n


def test_empty_summary_is_all_none() -> None:
    s = summarize_us([])
    assert s["p95"] is None and s["max"] is None and s["count"] == 0
    with pytest.raises(ValueError):
        percentile_nearest_rank([], 0.5)


def histogram_quantile(q: float, counts: np.ndarray) -> float:
    """Prometheus' histogram_quantile (promql/quantile.go) over per-bucket counts."""
    bounds = list(BUCKETS_SECONDS) + [math.inf]
    cumulative = np.cumsum(counts)
    total = cumulative[-1]
    rank = q * total
    b = int(np.searchsorted(cumulative, rank, side="left"))
    if b == len(bounds) - 1:
        return bounds[-2]
    start, end = (0.0, bounds[0]) if b == 0 else (bounds[b - 1], bounds[b])
    count = cumulative[b] - (cumulative[b - 1] if b > 0 else 0)
    rank -= cumulative[b - 1] if b > 0 else 0
    return start + (end - start) * (rank / count)


def test_buckets_cover_range_with_slo_boundary() -> None:
    assert BUCKETS_SECONDS[0] <= 0.0005 and BUCKETS_SECONDS[-1] >= 10.0
    assert 0.1 in BUCKETS_SECONDS
    ratios = np.array(BUCKETS_SECONDS[1:]) / np.array(BUCKETS_SECONDS[:-1])
    assert ratios.max() <= 1 + BUCKET_ERROR_BOUND + 1e-8
    assert BUCKET_ERROR_BOUND <= 0.05


@pytest.mark.parametrize("seed", range(6))
def test_histogram_quantile_within_stated_bound(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Log-uniform across 0.5 ms - 10 s plus a lognormal cluster: both shapes Kafka shows.
    values = np.concatenate(
        [
            np.exp(rng.uniform(math.log(500), math.log(10_000_000), 5000)),
            rng.lognormal(math.log(8000), 0.6, 5000),
        ]
    ).astype(np.int64)
    values = values[(values >= 500) & (values <= 10_000_000)]
    counts = bucket_counts(values)
    ordered = np.sort(values)
    worst = 0.0
    for q in (0.5, 0.9, 0.95, 0.99, 0.999):
        exact = percentile_nearest_rank(ordered, q) / 1e6
        approx = histogram_quantile(q, counts)
        worst = max(worst, abs(approx - exact) / exact)
    assert worst <= BUCKET_ERROR_BOUND + 1e-9


def test_bucket_edges_follow_le_semantics() -> None:
    # A value equal to a bound counts in that bucket (le = less or equal).
    counts = bucket_counts(np.array([100_000, 100_001], dtype=np.int64))
    k = BUCKETS_SECONDS.index(0.1)
    assert counts[k] == 1 and counts[k + 1] == 1
