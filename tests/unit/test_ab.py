"""``perf ab``: side files, ABBA orders, and the paired verdict over fake runs."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path

import pytest

from kafkaval.config import Settings, load_settings
from kafkaval.errors import UsageError
from loadgen import ab
from scheduler.verdict_terms import VerdictPolicy


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environ={}, overrides={"results_dir": str(tmp_path / "results")})


def test_side_file_is_read_and_checked(tmp_path: Path) -> None:
    good = tmp_path / "gzip.toml"
    good.write_text('[producer]\n"compression.type" = "gzip"\n"enable.idempotence" = true\n')
    side = ab.load_side(good)
    assert side.name == "gzip" and side.bootstrap_servers is None
    assert side.producer == {"compression.type": "gzip", "enable.idempotence": "true"}
    for text, message in (
        ("lingr = 5", "unknown key"),
        ("producer = 5", "must be a table"),
        ('bootstrap_servers = ""', "host:port"),
        ('prometheus_url = "127.0.0.1:19090"', "http"),
        ("not toml =", "not valid TOML"),
    ):
        (tmp_path / "bad.toml").write_text(text)
        with pytest.raises(UsageError, match=message):
            ab.load_side(tmp_path / "bad.toml")
    with pytest.raises(UsageError, match="cannot read"):
        ab.load_side(tmp_path / "missing.toml")


def test_a_side_on_another_cluster_takes_its_broker_figures_from_its_own_prometheus(
    tmp_path: Path, settings: Settings
) -> None:
    other = tmp_path / "other.toml"
    other.write_text(
        'bootstrap_servers = "127.0.0.1:20092"\nprometheus_url = "http://127.0.0.1:20090"\n'
    )
    side = ab.load_side(other)
    run = side.settings(settings, tmp_path / "runs")
    assert run.bootstrap_servers == "127.0.0.1:20092"
    assert run.prometheus_url == "http://127.0.0.1:20090"
    assert side.describe()["prometheus_url"] == "http://127.0.0.1:20090"
    # Unset, the side keeps the configured Prometheus.
    assert ab.Side("same").settings(settings, tmp_path).prometheus_url == settings.prometheus_url


def test_round_orders_are_balanced_abba_blocks() -> None:
    orders = ab.round_orders(10, random.Random(1))
    assert len(orders) == 10 and set(orders) <= {"AB", "BA"}
    for i in range(0, 10, 2):
        assert {orders[i], orders[i + 1]} == {"AB", "BA"}  # each block has both orders
    assert ab.round_orders(10, random.Random(1)) == orders  # seeded
    assert len(ab.round_orders(3, random.Random(2))) == 3


def _fake_runs(b_cost: float, drift_seed: int = 0):  # noqa: ANN202
    """run_side stand-in: a drifting machine; B's CPU per message is b_cost x A's."""
    rng = random.Random(drift_seed)
    calls: list[tuple[str, dict]] = []
    levels = [1 + rng.uniform(-0.3, 0.3) for _ in range(20)]  # the neighbour of each round

    def run(settings: Settings, producer: Mapping[str, str]) -> dict:
        level = levels[len(calls) // 2]
        factor = b_cost if producer.get("compression.type") == "gzip" else 1.0
        calls.append((settings.results_dir, dict(producer)))
        rep = {
            "achieved_rate": 1000 / level,
            "target_rate": None,
            "loadgen_cpu_seconds_per_message": 1e-4 * level * factor * (1 + rng.gauss(0, 0.01)),
        }
        return {"run_id": f"r{len(calls)}", "kind": "performance", "profiles": {"snapshot": rep}}

    return run, calls


def test_b_with_a_real_cost_is_flagged_and_every_round_is_recorded(settings: Settings) -> None:
    run, calls = _fake_runs(b_cost=1.25)
    a, b = ab.Side("plain"), ab.Side("gzip", producer={"compression.type": "gzip"})
    record = ab.run_ab(settings, a, b, 6, run, VerdictPolicy(), seed=3)
    assert record["regressions"] == ["performance.snapshot.loadgen_cpu_seconds_per_message"]
    assert not record["passed"] and record["complete"]
    assert [r["order"] for r in record["rounds"]] == ab.round_orders(6, random.Random(3))
    assert all(r["a_run_id"] and r["b_run_id"] for r in record["rounds"])
    # the side runs' records go to a folder of their own, not the history
    assert {c[0] for c in calls} == {str(Path(settings.results_dir) / f"ab-{record['run_id']}")}
    saved = json.loads((Path(settings.results_dir) / f"ab-{record['run_id']}.json").read_text())
    assert saved["verdicts"] == record["verdicts"]
    text = ab.format_record(record)
    assert "round  6" in text and "regression" in text


def test_a_vs_a_is_not_flagged(settings: Settings) -> None:
    run, _ = _fake_runs(b_cost=1.0, drift_seed=5)
    record = ab.run_ab(settings, ab.Side("a"), ab.Side("a2"), 8, run, VerdictPolicy(), seed=4)
    assert record["passed"] and record["regressions"] == []


def test_an_interrupted_run_is_not_a_pass(settings: Settings) -> None:
    run, _ = _fake_runs(b_cost=1.0)

    def interrupted_second(settings: Settings, producer: Mapping[str, str]) -> dict:
        rec = run(settings, producer)
        if rec["run_id"] == "r3":
            rec["interrupted"] = True
        return rec

    record = ab.run_ab(settings, ab.Side("a"), ab.Side("b"), 4, interrupted_second, VerdictPolicy())
    assert not record["complete"] and not record["passed"]
    assert "not a pass" in ab.format_record(record)
    with pytest.raises(UsageError, match="rounds"):
        ab.run_ab(settings, ab.Side("a"), ab.Side("b"), 2, run, VerdictPolicy())
