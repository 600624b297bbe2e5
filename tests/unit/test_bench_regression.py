"""``make bench-regression`` on recorded noise written to a temporary results folder."""

from __future__ import annotations

import json
import random
from pathlib import Path

from scheduler import bench
from scheduler.verdict_terms import HIGHER_IS_BETTER, LOWER_IS_BETTER, VerdictPolicy


def _perf(run_id: str, quick: bool, p99s: list[float], cpu: list[float]) -> dict:
    reps = [
        {"service_latency_seconds": {"p99": p}, "broker_cpu_seconds_per_1k_messages": c}
        for p, c in zip(p99s, cpu, strict=True)
    ]
    return {"run_id": run_id, "kind": "performance", "quick": quick,
            "profiles": {"throughput": {"target_rate": 1000, "repetitions": reps}}}  # fmt: skip


def test_bench_measures_each_method_on_recorded_noise_with_provenance(tmp_path: Path) -> None:
    rng = random.Random(1)
    (tmp_path / "performance-20261201T090000Z-full01.json").write_text(
        json.dumps(_perf("20261201T090000Z-full01", False, [5.0, 5.1, 4.9], [9.0, 9.1, 9.2]))
    )
    for i in range(8):  # QUICK runs: p99 noisy (30%), CPU per message steady (2%)
        rid = f"20261201T1{i}0000Z-quick{i}"
        rec = _perf(
            rid,
            True,
            [0.01 * (1 + rng.gauss(0, 0.3)) for _ in range(3)],
            [1.5 * (1 + rng.gauss(0, 0.02)) for _ in range(3)],
        )
        (tmp_path / f"performance-{rid}.json").write_text(json.dumps(rec))
    metric = "performance.throughput.broker_cpu_seconds_per_1k_messages"
    rounds = [
        {"round": i + 1, "complete": True, "a": {metric: 1.5}, "b": {metric: 1.5 * (1 + d)}}
        for i, d in enumerate(rng.gauss(0, 0.02) for _ in range(10))
    ]
    aa = {"run_id": "20261201T120000Z-aa0001", "kind": "ab", "a": {"producer": {}},
          "b": {"producer": {}}, "rounds": rounds,
          "verdicts": [{"metric": metric, "direction": LOWER_IS_BETTER}]}  # fmt: skip
    (tmp_path / "ab-20261201T120000Z-aa0001.json").write_text(json.dumps(aa))
    ab_b = {**aa, "run_id": "20261201T130000Z-ab0002", "b": {"producer": {"linger.ms": "50"}}}
    (tmp_path / "ab-20261201T130000Z-ab0002.json").write_text(json.dumps(ab_b))
    # a real A/B's side runs carry its difference: not noise
    (tmp_path / "ab-20261201T130000Z-ab0002").mkdir()
    slow = _perf("20261201T130500Z-slowb1", True, [1.0, 1.0, 1.0], [15.0, 15.0, 15.0])
    (
        tmp_path / "ab-20261201T130000Z-ab0002" / "performance-20261201T130500Z-slowb1.json"
    ).write_text(json.dumps(slow))

    out = bench.run_bench(tmp_path, VerdictPolicy(), trials=30, repeat=5, rounds=10, history=12)
    saved = json.loads((tmp_path / "bench-regression.json").read_text())
    assert saved["methods"] == out["methods"]
    assert set(out["methods"]) == {"repeated", "ab", "changepoint"}
    assert out["sources"]["a_vs_a_records"] == ["20261201T120000Z-aa0001"]  # not the real A/B
    assert [r["run_id"] for r in out["real_ab"]] == ["20261201T130000Z-ab0002"]
    assert "20261201T090000Z-full01" not in out["sources"]["performance_runs"]  # other kind
    assert "20261201T130500Z-slowb1" not in out["sources"]["performance_runs"]
    for entries in out["methods"].values():
        for e in entries:
            assert set(e) == {"metric", "effect", "repetitions", "power", "false_alarm_rate",
                              "mde", "noise_cv"}  # fmt: skip
    rep = {(e["metric"], e["effect"]): e for e in out["methods"]["repeated"]}
    cpu = rep[(metric, 0.10)]
    p99 = rep[("performance.throughput.service_p99_seconds", 0.10)]
    assert cpu["noise_cv"] < 0.05 < p99["noise_cv"]
    assert cpu["power"] > p99["power"] and cpu["mde"] is not None and cpu["mde"] <= 0.10
    assert p99["mde"] is None or p99["mde"] > cpu["mde"]
    (ab_entry,) = [e for e in out["methods"]["ab"] if e["effect"] == 0.10]
    assert ab_entry["repetitions"] == 10 and ab_entry["power"] >= 0.9
    assert all(e["repetitions"] == 12 for e in out["methods"]["changepoint"])


def test_ab_noise_is_the_per_round_difference_and_directions_come_along() -> None:
    rec = {"a": {"producer": {}}, "b": {"producer": {}},
           "verdicts": [{"metric": "rate", "direction": HIGHER_IS_BETTER}],
           "rounds": [{"a": {"rate": 100.0}, "b": {"rate": 90.0}}] * 3}  # fmt: skip
    (noise,) = bench.ab_noise([rec])
    assert noise.direction == HIGHER_IS_BETTER
    assert noise.values == (-0.1, -0.1, -0.1) or all(abs(v + 0.1) < 1e-12 for v in noise.values)
    assert bench.is_a_vs_a(rec)
    assert not bench.is_a_vs_a({**rec, "b": {"producer": {"acks": "1"}}})
