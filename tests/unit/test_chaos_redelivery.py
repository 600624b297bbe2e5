"""Redelivery bounds derived from the run: per group, per fault that hits it."""

from __future__ import annotations

from chaos.redelivery import redelivery_bounds


def _fault(kind: str, target: str, seconds: int) -> dict:
    return {
        "kind": kind,
        "target": target,
        "started_at": "2026-12-02T18:00:00.000Z",
        "ended_at": f"2026-12-02T18:00:{seconds:02d}.000Z",
    }


def test_a_group_no_fault_hits_may_redeliver_nothing() -> None:
    applied = [("consumer:g2", _fault("kill", "consumer-g2", 4))]
    bounds = redelivery_bounds(["g1", "g2", "g3"], applied, rate=150, batch=200)
    assert bounds["g1"] == {"bound": 0, "terms": []}
    assert bounds["g3"]["bound"] == 0
    (term,) = bounds["g2"]["terms"]
    assert bounds["g2"]["bound"] == 200 and "not committed" in term["why"]


def test_a_broker_fault_hits_every_group_by_its_window_at_the_runs_rate() -> None:
    applied = [("broker", _fault("partition", "broker-2", 10))]
    bounds = redelivery_bounds(["g1", "g2"], applied, rate=150, batch=200)
    assert bounds["g1"]["bound"] == bounds["g2"]["bound"] == 200 + 150 * 10
    assert "150 msg/s x 10.0 s" in bounds["g1"]["terms"][0]["why"]
    slower = redelivery_bounds(["g1"], applied, rate=30, batch=200)
    assert slower["g1"]["bound"] == 200 + 300  # the rate matters


def test_bounds_add_up_over_the_faults_that_hit_a_group() -> None:
    applied = [
        ("consumer:g1", _fault("kill", "consumer-g1", 3)),
        ("consumer:g1", _fault("restart", "consumer-g1", 3)),
        ("broker", _fault("kill", "broker-1", 2)),
    ]
    bounds = redelivery_bounds(["g1"], applied, rate=100, batch=50)
    assert bounds["g1"]["bound"] == 50 + 50 + (50 + 200)
    assert [t["fault"] for t in bounds["g1"]["terms"]] == [
        "kill on consumer-g1",
        "restart on consumer-g1",
        "kill on broker-1",
    ]
