"""``perf ab`` on the real stack: B with a real handicap is flagged, A vs A is not.

The handicap is a client setting that costs a lot of CPU for real: gzip at
level 9 on every batch of 5 KiB CDC envelopes, against no compression. The
judged metric is the load generator's CPU per message (librdkafka compresses
in the loadgen's own threads), a cost a busy neighbour moves little. Short
rounds: 5 rounds of 3,000 messages at max rate per side run.
"""

from __future__ import annotations

import dataclasses
import io

import pytest
from ports import free_port

from kafkaval.config import Settings
from loadgen import ab
from loadgen.options import SuiteOptions
from scheduler.verdict_terms import VerdictPolicy

pytestmark = pytest.mark.integration

METRIC = "performance.throughput.loadgen_cpu_seconds_per_message"
# One judged metric (5 rounds reach p = 1/32). Short runs' CPU per message
# varies by about 20% from run to run (setup and drain are in it); a 30%
# minimum effect keeps A/A quiet where gzip-9 costs +120-160%.
POLICY = VerdictPolicy(min_effect=0.30, metrics=(METRIC,))
ROUNDS = 5


@pytest.fixture(scope="module")
def ab_settings(stack_settings: Settings) -> Settings:
    return dataclasses.replace(stack_settings, metrics_port=free_port())


def _run(settings: Settings, b: ab.Side, seed: int) -> tuple[dict, str]:
    out = io.StringIO()
    opts = SuiteOptions(
        quick=True,
        profiles=["throughput"],
        rate="max",
        messages=3_000,
        progress=False,
        # correctness of each run is the perf suite's test; here only the costs count
        thresholds={"max_p95_service_seconds": 60.0, "min_rate_ratio": 0.0},
    )
    plain = ab.Side("plain", producer={"compression.type": "none"})
    record = ab.run_ab(
        settings, plain, b, ROUNDS, ab.run_side_with_suite(opts, out), POLICY, seed, out
    )
    for r in record["rounds"]:  # the figures behind the verdict, in the test log
        print(
            f"{b.name} round {r['round']} {r['order']}: "
            f"A {r['a'].get(METRIC)} B {r['b'].get(METRIC)}"
        )
    return record, out.getvalue()


def test_gzip_level_9_is_flagged_and_a_vs_a_is_not(ab_settings: Settings) -> None:
    gzip = ab.Side("gzip-9", producer={"compression.type": "gzip", "compression.level": "9"})
    worse, log = _run(ab_settings, gzip, seed=1)
    assert worse["complete"], log[-2000:]
    assert len(worse["rounds"]) == ROUNDS
    assert all(METRIC in r["a"] and METRIC in r["b"] for r in worse["rounds"])
    verdict = next(v for v in worse["verdicts"] if v["metric"] == METRIC)
    assert verdict["decision"] == "regression", ab.format_record(worse)
    assert worse["regressions"] == [METRIC] and not worse["passed"]

    same = ab.Side("plain-again", producer={"compression.type": "none"})
    aa, log = _run(ab_settings, same, seed=2)
    assert aa["complete"], log[-2000:]
    assert aa["passed"] and aa["regressions"] == [], ab.format_record(aa)
    effect = next(v for v in aa["verdicts"] if v["metric"] == METRIC)["effect"]
    print(f"\nA/B effect gzip-9 {verdict['effect']:+.1%}, A/A effect {effect:+.1%}")
