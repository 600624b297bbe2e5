"""The project's one latency bucket layout, and a histogram fed one observation at a time.

Every latency histogram kafkaval exports (loadgen, delivery, CDC) uses these
buckets, so dashboards and ``histogram_quantile`` read them all alike.
"""

from __future__ import annotations

import bisect
import itertools

import numpy as np
from prometheus_client.utils import floatToGoString

# Geometric buckets, ratio 1.04, anchored on the 0.1 s SLO boundary: k = -136
# gives 0.479 ms (<= 0.5 ms), k = 118 gives 10.2 s (>= 10 s). Linear
# interpolation inside one bucket is off by at most the bucket ratio, so
# histogram_quantile is within 4% of the exact percentile over 0.5 ms - 10 s.
BUCKET_RATIO = 1.04
BUCKET_K_RANGE = range(-136, 119)
BUCKETS_SECONDS: tuple[float, ...] = tuple(
    float(f"{0.1 * BUCKET_RATIO**k:.9g}") for k in BUCKET_K_RANGE
)
BUCKET_ERROR_BOUND = 0.04
_BOUNDS_US = np.array(BUCKETS_SECONDS, dtype=np.float64) * 1e6
LE_LABELS = [floatToGoString(b) for b in BUCKETS_SECONDS] + ["+Inf"]

# Bucket index of every whole µs below 65.536 ms, looked up instead of binary
# searched: most latencies are below it, and a scrape folds ~100k of them per
# histogram while holding the GIL the producer loop needs.
_LUT_LIMIT = 1 << 16
_LUT = np.searchsorted(_BOUNDS_US, np.arange(_LUT_LIMIT), side="left").astype(np.int64)


def bucket_counts(values_us: np.ndarray) -> np.ndarray:
    """Per-bucket (non-cumulative) counts of ``values_us``; the last slot is +Inf."""
    idx = _LUT[np.clip(values_us, 0, _LUT_LIMIT - 1)]
    big = values_us >= _LUT_LIMIT - 1
    if big.any():
        idx[big] = np.searchsorted(_BOUNDS_US, values_us[big], side="left")
    return np.bincount(idx, minlength=len(_BOUNDS_US) + 1)


class SlotHistogram:
    """A latency histogram fed one observation at a time (the delivery and CDC runs).

    Per-bucket counts in the bucket layout above, and the sum; ``buckets()``
    gives the cumulative ``(le, count)`` pairs a HistogramMetricFamily takes.
    Not locked: the owner's lock guards it with the rest of its state.
    """

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS_SECONDS) + 1)  # the last slot is +Inf
        self.sum_seconds = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS_SECONDS, seconds)] += 1
        self.sum_seconds += seconds

    def buckets(self) -> list[tuple[str, float]]:
        return list(zip(LE_LABELS, map(float, itertools.accumulate(self.counts)), strict=True))
