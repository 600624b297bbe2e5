"""Run tags: validation, labels on every sample, the line in the reports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

from kafkaval.errors import UsageError
from kafkaval.tags import MAX_TAGS, Tagged, describe, parse_tags, tagged


def test_tags_parse_in_order() -> None:
    assert parse_tags(["branch=main", " env = ci-7 ", "build=v1.2+3"]) == {
        "branch": "main",
        "env": "ci-7",
        "build": "v1.2+3",
    }
    assert parse_tags([]) == {}


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["branch"], "write --tag key=value"),
        (["1abc=x"], "bad tag name '1abc'"),
        (["__name=x"], "not starting with __"),
        (["a-b=x"], "bad tag name 'a-b'"),
        (["profile=x"], "tag name 'profile' is a label kafkaval's metrics already use"),
        (["job=x"], "already use"),
        (["env="], "bad value for tag env"),
        (["env=" + "x" * 65], "bad value for tag env: use 1-64 characters"),
        (['env=a"b'], "bad value for tag env"),
        (["env=a b"], "bad value for tag env"),
        (["env=a", "env=b"], "tag env given twice"),
        ([f"t{i}=x" for i in range(MAX_TAGS + 1)], "9 tags: at most 8 per run"),
    ],
)
def test_bad_tags_are_one_clear_line(items: list[str], expected: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_tags(items)
    assert expected in str(e.value) and "\n" not in str(e.value)


class _Fixed:
    def collect(self):  # type: ignore[no-untyped-def]
        c = CounterMetricFamily("kafkaval_x_total", "x", labels=["profile"])
        c.add_metric(["burst"], 3)
        h = HistogramMetricFamily("kafkaval_h_seconds", "h", labels=["role"])
        h.add_metric(["producer"], [("0.1", 1), ("+Inf", 2)], sum_value=0.3)
        yield c
        yield h


def test_every_sample_gets_the_tags_and_keeps_its_own_labels() -> None:
    registry = CollectorRegistry()
    registry.register(Tagged(_Fixed(), {"branch": "main", "env": "ci"}))
    text = generate_latest(registry).decode()
    assert 'kafkaval_x_total{branch="main",env="ci",profile="burst"} 3.0' in text
    assert 'kafkaval_h_seconds_bucket{branch="main",env="ci",le="0.1",role="producer"} 1.0' in text
    assert 'kafkaval_h_seconds_sum{branch="main",env="ci",role="producer"} 0.3' in text
    # Scraped twice: the tags are added once per scrape, not piled up.
    assert generate_latest(registry).decode() == text
    untagged = _Fixed()
    assert tagged(untagged, {}) is untagged
    assert describe({"a": "b", "c": "d"}) == "a=b, c=d" and describe(None) == ""


def test_reports_show_the_tags() -> None:
    from report_fakes import FakeProm, fixture_totals
    from test_report_render import _record

    from kafkaval.prom_queries import QueryRunner
    from report.render import build_delivery, build_performance

    frozen = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    collector = QueryRunner(FakeProm(fixture_totals()), scrape_interval=2.0)
    perf = {**_record("performance"), "tags": {"branch": "main", "env": "ci"}}
    text = build_performance(perf, collector, frozen, charts=False).text
    assert "reading-reports.md).\nTags: branch=main, env=ci.\n\n## Test environment" in text
    delivery = {**_record("delivery"), "tags": {"branch": "main"}}
    assert "\nTags: branch=main.\n" in build_delivery(delivery, collector, frozen, False).text
