"""The delivery report: a group's missing messages fail at-least-once; offset anomalies shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from report_fakes import FakeProm, fixture_totals

from kafkaval.prom_queries import QueryRunner
from report.delivery import guarantee_statement
from report.render import build_delivery

DATA = Path(__file__).parent / "data" / "report"
FROZEN = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def _record_with(**group_counts: int) -> dict:
    record = json.loads((DATA / "latest-delivery.json").read_text())
    entry = record["scenarios"]["consumer-restart"]
    entry["groups"]["kafkaval-g1"].update(group_counts)
    entry["passed"] = record["passed"] = False
    entry["failures"] = [f"group kafkaval-g1 {k} {v} > 0" for k, v in group_counts.items()]
    return record


def _text(record: dict) -> str:
    collector = QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)
    return build_delivery(record, collector, FROZEN, charts=False).text


def test_a_group_missing_messages_violates_at_least_once() -> None:
    text = _text(_record_with(missing=12))
    assert (
        "at-least-once VIOLATED: 0 of 120,000 acked messages lost; "
        "group kafkaval-g1 never got 12 acked messages" in text
    )
    assert "| missing (kafkaval-g1) | 12 | 0 | ❌ FAIL |" in text
    assert "| consumer-restart | 3-broker | 120,000 | 0 | 12 | 0 | 314 |" in text
    assert "- group kafkaval-g1 missing 12 > 0" in text


def test_offset_anomalies_are_shown_per_group_and_summed() -> None:
    text = _text(_record_with(poll_skip=5, nonmonotonic_poll=1))
    assert "| poll_skip (kafkaval-g1) | 5 | 0 | ❌ FAIL |" in text
    # No bound stated for non-monotonic polls in the record: none is allowed.
    assert "| nonmonotonic_poll (kafkaval-g1) | 1 | 0 | ❌ FAIL |" in text
    assert "| 0 | 0 | 6 | ❌ FAIL |" in text  # failed, failed-visible, offset anomalies
    assert "at-least-once held" in text and "; 6 offset anomalies" in text


def test_counts_a_record_does_not_carry_are_not_measured() -> None:
    record = json.loads((DATA / "latest-delivery.json").read_text())
    entry = record["scenarios"]["consumer-restart"]
    for key in ("inconsistent_offsets", "foreign", "removed"):
        del entry[key]
    del entry["groups"]["kafkaval-g1"]["poll_skip"]
    text = _text(record)
    assert "| inconsistent_offsets | — | 0 | — |" in text
    assert "| poll_skip (kafkaval-g1) | — | 0 | — |" in text
    assert "| 0 | 0 | — | ✅ PASS |" in text  # offset anomalies: not measured, not 0


def test_a_group_without_a_missing_count_cannot_state_the_guarantee() -> None:
    entry = {"acked": 10, "lost": 0, "groups": {"g1": {"delivered": 10}}}
    assert guarantee_statement(entry) == (
        "no missing count for group g1 in the run record: the guarantee cannot be stated"
    )


def test_a_redelivery_bound_per_group_is_read_for_that_group() -> None:
    record = json.loads((DATA / "latest-delivery.json").read_text())
    record["scenarios"]["consumer-restart"]["bounds"]["redeliveries_per_group"] = {
        "kafkaval-g1": 200
    }
    assert "| redeliveries (kafkaval-g1) | 314 | 200 | ❌ FAIL |" in _text(record)
