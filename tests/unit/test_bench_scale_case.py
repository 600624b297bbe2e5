"""A bench-scale case's entry, from the merged result the engine driver returns."""

from __future__ import annotations

from typing import Any

from loadgen.bench_scale import scale_case
from loadgen.worker_merge import _worker_row


def _summary(worker: int, rate: float) -> dict[str, Any]:
    """A worker's summary as far as its row in the merged result reads it."""
    return {
        "worker": worker, "host": "h", "sent": 5, "acked": 5, "failed": 0,
        "own": {"achieved_rate": rate}, "own_service_p99_seconds": 0.01,
        "cpu_seconds": 1.0, "max_rss_bytes": 1,
    }  # fmt: skip


def test_each_workers_own_rate_comes_from_the_merged_rows() -> None:
    res = {
        "achieved_rate": 150.0,
        "acked": 10,
        "produce_seconds": 2.0,
        "worker_results": [_worker_row(_summary(1, 100.0)), _worker_row(_summary(2, 80.0))],
    }
    case = scale_case(2, res, counted=10, one_worker_rate=100.0)
    assert case["worker_rates"] == [100.0, 80.0]
    assert case["efficiency"] == 150.0 / (2 * 100.0)
    assert (case["msgs_per_s"], case["acked"], case["counted"]) == (150.0, 10, 10)


def test_without_rows_one_worker_is_the_run_and_more_are_not_measured() -> None:
    res = {"achieved_rate": 90.0, "acked": 10, "produce_seconds": 1.0}
    first = scale_case(1, res, counted=10, one_worker_rate=None)
    assert first["worker_rates"] == [90.0] and first["efficiency"] == 1.0
    assert scale_case(3, res, counted=10, one_worker_rate=90.0)["worker_rates"] is None
