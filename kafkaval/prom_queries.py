"""PromQL over a run's window: the named queries of ``kafkaval/promql.py`` and what they return.

``QueryRunner`` renders a named query for a ``Window``, asks Prometheus (a
``QuerySource``) and keeps count of the samples it got; one made with
``QueryRunner.record_only`` answers "no data" to every query, for a run
whose window Prometheus no longer holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from kafkaval import promql
from kafkaval.prom_client import PrometheusError, Sample, Series
from kafkaval.records import parse_iso


class QuerySource(Protocol):
    """What a QueryRunner needs from Prometheus (PromClient, or a fake in unit tests)."""

    def query(self, expr: str, at: datetime | float | None = None) -> list[Sample]: ...

    def query_range(
        self,
        expr: str,
        start: datetime | float,
        end: datetime | float,
        step: float | None = None,
        min_step: float = 1.0,
    ) -> list[Series]: ...


@dataclass(frozen=True)
class Window:
    """The time range a run (or one profile of it) is reported over.

    ``end`` is padded past the recorded end by two scrape intervals: processes
    stay up one interval after their work so the final values are scraped, and
    that scrape lands after the recorded end.
    """

    start: datetime
    end: datetime
    scrape_interval: float

    @classmethod
    def of(
        cls, entry: Mapping[str, Any], fallback: Window | None, scrape_interval: float
    ) -> Window:
        """The window of a run record or one of its entries (``started_at``, ``ended_at``)."""
        if entry.get("started_at") and entry.get("ended_at"):
            start, end = parse_iso(entry["started_at"]), parse_iso(entry["ended_at"])
            pad = timedelta(seconds=2 * scrape_interval + 1)
            return cls(start, end + pad, scrape_interval)
        if fallback is None:
            raise PrometheusError("run record has no started_at/ended_at: cannot find its window")
        return fallback

    @property
    def seconds(self) -> float:
        return max(1.0, (self.end - self.start).total_seconds())

    def params(self, **labels: str) -> dict[str, str]:
        """Placeholder values of promql templates for this window."""
        return {
            "sel": promql.matchers(**labels),
            "window": promql.duration(self.seconds),
            # rate() needs at least two samples: four scrape intervals is robust to one miss.
            "rate": promql.duration(max(4 * self.scrape_interval, 4)),
            "step": promql.duration(self.scrape_interval),
        }


class WindowEmpty(PrometheusError):
    """Prometheus answers but holds nothing of a run's window (retention, another server)."""


class QueryRunner:
    """Runs the named PromQL queries of a window and counts the samples that came back.

    Args:
        source: Prometheus (anything with ``query`` and ``query_range``).
        scrape_interval: seconds between scrapes; sets padding, rate ranges and steps.
        record_only: why the report is built without Prometheus (see
            ``QueryRunner.record_only_runner``); None: with it.
    """

    def __init__(
        self, source: QuerySource, scrape_interval: float, record_only: str | None = None
    ) -> None:
        self.source = source
        self.scrape_interval = scrape_interval
        self.record_only = record_only
        self.samples_seen = 0

    @classmethod
    def record_only_runner(cls, reason: str, scrape_interval: float) -> QueryRunner:
        """A runner for a run whose window Prometheus no longer holds.

        Every query answers "no data", so the report shows the run record's exact
        figures alone; the context carries ``record_only`` (the reason) and the
        templates say so at the top, and the cross-check rows read "not checked".
        """
        return cls(_NoData(), scrape_interval, record_only=reason)

    def scalar(self, name: str, window: Window, /, q: str = "", **labels: str) -> float | None:
        """The single value of an aggregating query, None when Prometheus has no data."""
        params = window.params(**labels)
        if q:
            params["q"] = q
        result = self.source.query(promql.render(name, **params), at=window.end)
        values = [s.value for s in result if not math.isnan(s.value)]
        self.samples_seen += len(values)
        return values[0] if values else None

    def by_name(self, name: str, window: Window, **labels: str) -> dict[str, float]:
        """``{name label: value}`` of a ``by (name)`` query."""
        return self.by_label(name, window, "name", **labels)

    def by_label(self, name: str, window: Window, label: str, **labels: str) -> dict[str, float]:
        """``{value of label: value}`` of a ``by (label)`` query (NaN results left out)."""
        result = self.source.query(promql.render(name, **window.params(**labels)), at=window.end)
        self.samples_seen += len(result)
        return {s.labels.get(label, "?"): s.value for s in result if not math.isnan(s.value)}

    def series(self, name: str, window: Window, q: str = "", **labels: str) -> list[dict[str, Any]]:
        """Range query: ``[{"labels", "t": [seconds since window start], "v": [...]}]``."""
        params = window.params(**labels)
        if q:
            params["q"] = q
        result = self.source.query_range(
            promql.render(name, **params), window.start, window.end, min_step=self.scrape_interval
        )
        t0 = window.start.timestamp()
        return [
            {
                "labels": s.labels,
                "t": [t - t0 for t, v in s.points if not math.isnan(v)],
                "v": [v for t, v in s.points if not math.isnan(v)],
            }
            for s in result
        ]

    def require_data(self, window: Window, what: str) -> None:
        """Fail when Prometheus holds no kafkaval series at all over ``window``
        (never for a record-only runner).

        Raises:
            WindowEmpty: the window is empty (wrong Prometheus, expired retention,
                or nothing scraped the run).
        """
        if self.record_only:
            return
        span = promql.duration(window.seconds)
        # count() first: range functions drop __name__, which would collide series.
        step = promql.duration(window.scrape_interval)
        expr = f'max_over_time(count({{__name__=~"kafkaval_.+"}})[{span}:{step}])'
        if not self.source.query(expr, at=window.end):
            raise WindowEmpty(
                f"Prometheus has no kafkaval data for {what} between "
                f"{window.start:%Y-%m-%d %H:%M:%S} and {window.end:%H:%M:%S} UTC: "
                "was it scraping the run (retention, --prometheus-url)?"
            )


class _NoData:
    """A query source without any series (any query, any window)."""

    def query(self, *args: Any, **kwargs: Any) -> list[Sample]:
        return []

    def query_range(self, *args: Any, **kwargs: Any) -> list[Series]:
        return []
