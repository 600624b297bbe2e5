"""A latency histogram that workers on different machines can merge exactly.

The distributed run (loadgen.distributed) cannot ship every worker's
per-message arrays to the driver, so each worker sends its latencies folded
into log-linear buckets: every whole µs below 2048 µs is its own bucket,
above that each power of two is cut into 1024 equal buckets (the layout of
HdrHistogram with three significant digits). Merging is adding counts per
bucket, so the merged histogram is exactly the histogram of the union of the
workers' samples; a percentile read from it (nearest rank, as
``loadgen.recorder.percentile_nearest_rank``) is the lower bound of the
bucket holding the true percentile: at most ``ERROR_BOUND`` (relative) below
it, never above. Count, sum and max are carried exactly.
"""

from __future__ import annotations

import base64
import math
import zlib
from typing import Any

import numpy as np

from loadgen.recorder import PERCENTILES

SUB_BITS = 10  # 2**10 buckets per power of two
_EXACT_BITS = SUB_BITS + 1  # values below 2**11 µs keep their own bucket
ERROR_BOUND = 2.0**-SUB_BITS  # relative: a percentile is within 0.098 % below the truth


def bucket_floor(values_us: np.ndarray) -> np.ndarray:
    """Each value's bucket (its lower bound in µs); negative values count as 0."""
    v = np.maximum(np.asarray(values_us, dtype=np.int64), 0)
    _, exp = np.frexp(v.astype(np.float64))  # exp = bit length (exact below 2**53)
    shift = np.maximum(exp.astype(np.int64) - _EXACT_BITS, 0)
    return np.left_shift(np.right_shift(v, shift), shift)


class MergeableHistogram:
    """Sparse bucket counts of µs latencies plus exact count, sum and max."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.sum_us = 0
        self.max_us: int | None = None

    @classmethod
    def of(cls, values_us: np.ndarray) -> MergeableHistogram:
        h = cls()
        h.add(values_us)
        return h

    def add(self, values_us: np.ndarray) -> None:
        arr = np.asarray(values_us, dtype=np.int64)
        if arr.size == 0:
            return
        keys, counts = np.unique(bucket_floor(arr), return_counts=True)
        for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
            self.counts[k] = self.counts.get(k, 0) + c
        self.count += int(arr.size)
        self.sum_us += int(arr.sum())
        top = int(arr.max())
        self.max_us = top if self.max_us is None else max(self.max_us, top)

    def merge(self, other: MergeableHistogram) -> None:
        for k, c in other.counts.items():
            self.counts[k] = self.counts.get(k, 0) + c
        self.count += other.count
        self.sum_us += other.sum_us
        if other.max_us is not None:
            self.max_us = other.max_us if self.max_us is None else max(self.max_us, other.max_us)

    def percentile_us(self, q: float) -> int:
        """Nearest-rank percentile: the lower bound of the bucket holding rank ceil(q*n).

        Raises:
            ValueError: empty histogram or q outside (0, 1].
        """
        if self.count == 0:
            raise ValueError("no values")
        if not 0 < q <= 1:
            raise ValueError(f"quantile {q} outside (0, 1]")
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for k in sorted(self.counts):
            seen += self.counts[k]
            if seen >= rank:
                return k
        raise AssertionError("counts do not add up to count")  # unreachable by construction

    def summary(self) -> dict[str, float | int | None]:
        """The shape of ``loadgen.recorder.summarize_us`` (seconds), from the buckets."""
        if self.count == 0:
            return {**{k: None for k in PERCENTILES}, "max": None, "mean": None, "count": 0}
        out: dict[str, float | int | None] = {
            k: self.percentile_us(q) / 1e6 for k, q in PERCENTILES.items()
        }
        out["max"] = (self.max_us or 0) / 1e6
        out["mean"] = self.sum_us / self.count / 1e6
        out["count"] = self.count
        return out

    # -- wire form (JSON-safe) --------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        keys = np.array(sorted(self.counts), dtype=np.int64)
        counts = np.array([self.counts[k] for k in keys.tolist()], dtype=np.int64)
        return {
            "layout": f"log-linear sub_bits={SUB_BITS} unit=us",
            "keys": pack(keys),
            "counts": pack(counts),
            "count": self.count,
            "sum_us": self.sum_us,
            "max_us": self.max_us,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> MergeableHistogram:
        """Raises ValueError for another layout or inconsistent counts."""
        if doc.get("layout") != f"log-linear sub_bits={SUB_BITS} unit=us":
            raise ValueError(f"unknown histogram layout {doc.get('layout')!r}")
        keys, counts = unpack(doc["keys"]), unpack(doc["counts"])
        h = cls()
        h.counts = dict(zip(keys.tolist(), counts.tolist(), strict=True))
        h.count, h.sum_us, h.max_us = int(doc["count"]), int(doc["sum_us"]), doc["max_us"]
        if sum(h.counts.values()) != h.count:
            raise ValueError("histogram bucket counts do not add up to its count")
        return h


def pack(arr: np.ndarray) -> str:
    """An int64 array as compact JSON-safe text (zlib + base64)."""
    return base64.b64encode(zlib.compress(arr.astype("<i8").tobytes())).decode()


def unpack(text: str) -> np.ndarray:
    """The int64 array of ``pack``."""
    return np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype="<i8").astype(np.int64)
