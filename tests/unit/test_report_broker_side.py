"""The performance report's broker side: figures from the brokers' JMX series, or a
line saying they are missing (never zeros), and where a Produce spent its time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from report_fakes import FakeProm, fixture_totals

from kafkaval.prom_client import Sample
from kafkaval.prom_queries import QueryRunner
from report.brokers import BROKER_MISSING, sample_gaps, where_time_went
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


def test_a_resource_row_with_scrape_gaps_is_named_next_to_its_figures() -> None:
    # 30 samples over 58 s at 2 s: all of them; 28, a missed scrape, is noise.
    assert sample_gaps(30, 58, 2.0) == "" and sample_gaps(28, 58, 2.0) == ""
    # A restarted Prometheus: 12 of the 29 its span should hold.
    assert sample_gaps(12, 58, 2.0) == "12 of 29 samples"
    # A process that lived 10 s of the window: a short span, not a gap.
    assert sample_gaps(6, 10, 2.0) == ""
    assert sample_gaps(None, 58, 2.0) == "" and sample_gaps(12, None, 2.0) == ""


def test_the_report_names_a_gappy_row_next_to_its_figures() -> None:
    class Gappy(FakeProm):
        def query(self, expr, at=None):  # type: ignore[no-untyped-def]
            out = super().query(expr, at)
            if "count_over_time" in expr:  # the broker's series lost 18 of its 30 samples
                return [
                    s if s.labels["name"] != "broker-0" else Sample(s.labels, 12.0) for s in out
                ]
            return out

    data = Path(__file__).parent / "data" / "report" / "latest-performance.json"
    record = json.loads(data.read_text())
    runner = QueryRunner(Gappy(fixture_totals()), scrape_interval=2.0)
    frozen = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    text = build_performance(record, runner, frozen, charts=False).text
    whole = text[text.index("## Resource usage over the whole run") :]
    assert "| broker-0 (gaps) |" in whole and "| loadgen |" in whole
    assert "- broker-0: the exporter's series has 12 of 29 samples" in whole
