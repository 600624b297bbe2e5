"""Cost figures and robust tails of one load repetition (loadgen/cost.py)."""

from __future__ import annotations

import numpy as np
import pytest

from loadgen import cost
from loadgen.recorder import UNSET
from scheduler.metrics_extract import extract
from scheduler.verdict_terms import LOWER_IS_BETTER


def test_windowed_p99_is_the_median_of_the_windows_p99s_not_spoiled_by_one_burst() -> None:
    # 5 windows of 10 s, 1000 messages each, service time 2 ms; window 3 has a
    # neighbour's burst: a tenth of its messages take 200 ms.
    sent, acked = [], []
    for w in range(5):
        for i in range(1000):
            t = w * 10_000_000 + i * 9_000
            service = 200_000 if w == 3 and i % 10 == 0 else 2_000
            sent.append(t)
            acked.append(t + service)
    s, a = np.array(sent, dtype=np.int64), np.array(acked, dtype=np.int64)
    whole = float(np.percentile(a - s, 99)) / 1e6
    assert whole > 0.1  # the whole-run p99 carries the burst
    assert cost.windowed_p99(s, a) == pytest.approx(0.002)


def test_windowed_p99_skips_thin_windows_and_failed_messages() -> None:
    s = np.array([0, 1000, 2000, UNSET], dtype=np.int64)
    a = np.array([500, UNSET, 2600, UNSET], dtype=np.int64)
    assert cost.windowed_p99(s, a) is None  # 2 acks: no window has 100
    assert cost.windowed_p99(s, a, min_messages=2) == pytest.approx(0.000599, abs=1e-6)
    assert cost.windowed_p99(np.array([UNSET]), np.array([UNSET])) is None


def test_cost_figures_per_message_and_missing_inputs_left_out() -> None:
    res = {
        "acked": 20_000,
        "broker_cpu_seconds": 30.0,
        "loadgen_cpu_seconds": 4.0,
        "broker_disk_written_bytes": 220_000_000,
    }
    out = cost.cost_figures(res, record_size=5120)
    assert out == pytest.approx(
        {
            "broker_cpu_seconds_per_1k_messages": 1.5,
            "broker_cpu_seconds_per_mib": 30.0 / (20_000 * 5120 / 2**20),
            "loadgen_cpu_seconds_per_message": 0.0002,
            "broker_disk_bytes_per_message": 11_000,
        }
    )
    assert cost.cost_figures({"acked": 0, "broker_cpu_seconds": 3.0}, 5120) == {}
    assert cost.cost_figures({"acked": 10, "broker_cpu_seconds": None}, 5120) == {}


def test_cost_metrics_are_compared_lower_is_better() -> None:
    reps = [
        {"acked": 10, "broker_cpu_seconds_per_1k_messages": v, "service_p99_windowed_seconds": 0.01}
        for v in (1.5, 1.6)
    ]
    record = {"kind": "performance", "profiles": {"snapshot": {"repetitions": reps}}}
    got = extract([record])
    cpu = got["performance.snapshot.broker_cpu_seconds_per_1k_messages"]
    assert cpu.direction == LOWER_IS_BETTER and cpu.values == [1.5, 1.6]
    assert got["performance.snapshot.service_p99_windowed_seconds"].values == [0.01, 0.01]
