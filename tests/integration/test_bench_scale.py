"""``perf scale`` (make bench-scale) on the real stack: each case's totals are exact.

A benchmark prints figures; this test checks only what must hold whatever the
machine: every case of 1, 2 and 3 workers acked exactly the messages asked
for, an independent read-back of the topics counted the same, the record
says so, and nothing of a case is left on the broker. Local worker
processes and tiny sizes keep it short (the swarm engine's totals are
checked by test_swarm.py).
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest

from kafkaval import kafka_admin
from kafkaval.config import Settings
from loadgen.bench_scale import WORKER_COUNTS, run_scale

pytestmark = pytest.mark.integration

MESSAGES = 3000


def test_every_case_is_exact_and_the_record_says_what_was_measured(
    stack_settings: Settings, tmp_path: Path
) -> None:
    settings = dataclasses.replace(stack_settings, results_dir=str(tmp_path / "results"))
    topics_before = _topics(settings)
    out = io.StringIO()
    result = run_scale(settings, engine="local", messages=MESSAGES, out=out)

    written = json.loads((tmp_path / "results" / "bench-scale.json").read_text())
    assert written == result
    assert result["perf_test_msgs_per_s"] > 0  # the reference tool ran on the same broker
    cases = result["cases"]
    assert [c["workers"] for c in cases] == list(WORKER_COUNTS)
    for c in cases:
        assert c["acked"] == c["counted"] == MESSAGES, c
        assert c["msgs_per_s"] > 0 and c["produce_seconds"] > 0, c
    assert cases[0]["efficiency"] == 1.0 and cases[0]["worker_rates"] == [cases[0]["msgs_per_s"]]
    # Local processes report no per-worker rows: not measured, never made up.
    assert all(c["worker_rates"] is None for c in cases[1:])
    for w in WORKER_COUNTS:
        assert f"{w} worker(s) on local:" in out.getvalue()
    # The cases' topics and the reference topic are deleted.
    assert _topics(settings) <= topics_before


def _topics(settings: Settings) -> set[str]:
    """The stack's topics but Kafka's own (__consumer_offsets appears with the first group)."""
    md = kafka_admin.admin_client(settings.client_config()).list_topics(timeout=10)
    return {t for t in md.topics if not t.startswith("__")}
