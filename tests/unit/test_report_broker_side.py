"""The performance report's broker side: figures from the brokers' JMX series, or a
line saying they are missing (never zeros), and where a Produce spent its time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from report_fakes import FakeProm, fixture_totals

from kafkaval.prom_queries import QueryRunner
from report.brokers import BROKER_MISSING, where_time_went
from report.render import build_delivery, build_performance

DATA = Path(__file__).parent / "data" / "report"
FROZEN = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def _text(prom: FakeProm) -> str:
    record = json.loads((DATA / "latest-performance.json").read_text())
    return build_performance(
        record, QueryRunner(prom, scrape_interval=2.0), FROZEN, charts=False
    ).text


def test_brokers_without_the_agent_are_named_not_zeroed() -> None:
    text = _text(FakeProm(fixture_totals(), brokers=False))
    assert f"Broker side: {BROKER_MISSING}." in text
    assert "| broker | Produce p99 ms |" not in text


def test_broker_rows_come_from_the_broker_queries() -> None:
    prom = FakeProm(fixture_totals())
    text = _text(prom)
    assert "| broker-1 | 4.5 | 0.5 | 1.2 | 2.0 | 85% | 1.0 MiB/s | 0 | 1% |" in text
    # Per profile window, the broker's own series (job kafka-broker) were asked for.
    assert any('job="kafka-broker",request="Produce",quantile="0.99"' in q for q in prom.queries)


def test_where_the_time_went_names_the_biggest_phases_and_the_client_rest() -> None:
    means = {
        "totaltimems": {"broker-1": 10.0, "broker-2": 6.0},
        "requestqueuetimems": {"broker-1": 6.0, "broker-2": 4.0},
        "localtimems": {"broker-1": 2.0, "broker-2": 1.0},
        "remotetimems": {"broker-1": 1.0, "broker-2": 0.0},
        "responsequeuetimems": {"broker-1": 0.5, "broker-2": 0.5},
        "responsesendtimems": {"broker-1": 0.5, "broker-2": 0.5},
    }
    text = where_time_went(means, client_p50=0.012)
    assert text.startswith("Where the time went: a Produce took 8.00 ms on the brokers on average:")
    assert (
        "62% waiting for a request handler (broker queueing), 19% appending on the leader" in text
    )
    assert "about 4.00 ms of it was spent outside the brokers" in text


def test_where_the_time_went_without_request_times_says_not_measured() -> None:
    assert "not measured" in where_time_went({}, client_p50=0.005)
    partial = {"totaltimems": {"broker-1": 3.0}}
    assert "not measured" in where_time_went(partial, client_p50=None)


def _delivery_text(prom: FakeProm) -> str:
    record = json.loads((DATA / "latest-delivery.json").read_text())
    return build_delivery(record, QueryRunner(prom, scrape_interval=2.0), FROZEN, charts=False).text


def test_delivery_report_shows_what_the_cluster_saw() -> None:
    text = _delivery_text(FakeProm(fixture_totals()))
    # The fake's URP series: 3 from +10 s, 0 again from +24 s.
    assert "- under-replicated partitions: peak 3, first at +10.0 s, back to 0 at +24.0 s" in text
    assert "- ISR shrinks 3, expands 3;" in text


def test_delivery_report_without_broker_series_says_not_measured() -> None:
    text = _delivery_text(FakeProm(fixture_totals(), brokers=False))
    assert f"What the cluster saw: {BROKER_MISSING}." in text
    assert "under-replicated partitions:" not in text
