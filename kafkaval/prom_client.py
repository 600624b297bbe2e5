"""A small client for the Prometheus HTTP API: instant and range queries.

Every failure (connection refused, timeout, HTTP error, a PromQL error) becomes
one ``PrometheusError`` line naming the URL and the cause, so the CLI can print
it and exit 1 without a traceback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests

from kafkaval.errors import KafkavalError

# Prometheus refuses a range query that would return more than 11,000 points
# per series ("exceeded maximum resolution of 11,000 points per timeseries").
MAX_POINTS = 11_000


class PrometheusError(KafkavalError):
    """Prometheus unreachable, answering an error, or a query it rejected."""


@dataclass(frozen=True)
class Sample:
    """One series of an instant vector: its labels and value."""

    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    """One series of a range query: its labels and (unix time, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float]] = field(default_factory=list)


def choose_step(start: float, end: float, min_step: float = 1.0, max_points: int = 1_000) -> float:
    """A step for ``query_range`` over [start, end] that stays under the point limits.

    Args:
        start: window start, unix seconds.
        end: window end, unix seconds.
        min_step: never finer than this (the scrape interval: finer steps add no data).
        max_points: wanted upper bound on points per series; capped at Prometheus's 11,000.

    Raises:
        ValueError: end is before start, or the bounds are not positive.
    """
    if end < start:
        raise ValueError(f"window end {end} is before its start {start}")
    if min_step <= 0 or max_points <= 1:
        raise ValueError("min_step must be > 0 and max_points > 1")
    points = min(max_points, MAX_POINTS)
    # (end - start) / step + 1 points are returned; keep that <= points.
    step = max(min_step, (end - start) / (points - 1))
    # Whole milliseconds: Prometheus parses the step as a float of seconds, and
    # rounding up keeps the point count under the bound.
    return math.ceil(step * 1000) / 1000


def _unix(ts: datetime | float) -> float:
    return ts.timestamp() if isinstance(ts, datetime) else float(ts)


class PromClient:
    """Queries one Prometheus server.

    Args:
        base_url: e.g. ``http://127.0.0.1:19090``.
        session: an HTTP session (injectable for tests); a new ``requests.Session`` by default.
        timeout: seconds per HTTP request.
    """

    def __init__(
        self, base_url: str, session: requests.Session | None = None, timeout: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        url = self.base_url + path
        try:
            resp = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as e:
            raise PrometheusError(
                f"Prometheus at {self.base_url} is unreachable ({type(e).__name__}): start it "
                "(kafkaval stack up) or set --prometheus-url"
            ) from e
        try:
            body = resp.json()
        except ValueError as e:
            raise PrometheusError(
                f"Prometheus at {self.base_url} answered HTTP {resp.status_code} without JSON "
                f"on {path}: is this URL a Prometheus server?"
            ) from e
        if body.get("status") != "success":
            err = body.get("error") or f"HTTP {resp.status_code}"
            query = params.get("query", "")
            raise PrometheusError(f"Prometheus rejected {query!r}: {err}")
        return body["data"]

    def ready(self) -> bool:
        """True when Prometheus answers ``/-/ready``; never raises."""
        try:
            return self.session.get(self.base_url + "/-/ready", timeout=self.timeout).ok
        except requests.RequestException:
            return False

    def query(self, expr: str, at: datetime | float | None = None) -> list[Sample]:
        """Evaluate ``expr`` at one instant (``/api/v1/query``).

        Args:
            expr: PromQL; must give an instant vector or a scalar.
            at: evaluation time; Prometheus's "now" when None.

        Raises:
            PrometheusError: unreachable, an HTTP error, or a PromQL error.
        """
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{_unix(at):.3f}"
        data = self._get("/api/v1/query", params)
        if data["resultType"] == "scalar":
            return [Sample({}, float(data["result"][1]))]
        if data["resultType"] != "vector":
            raise PrometheusError(f"{expr!r} gave a {data['resultType']}, not an instant vector")
        return [Sample(r["metric"], float(r["value"][1])) for r in data["result"]]

    def query_range(
        self,
        expr: str,
        start: datetime | float,
        end: datetime | float,
        step: float | None = None,
        min_step: float = 1.0,
    ) -> list[Series]:
        """Evaluate ``expr`` over [start, end] (``/api/v1/query_range``).

        Args:
            expr: PromQL giving an instant vector.
            start: window start.
            end: window end.
            step: resolution in seconds; chosen by ``choose_step`` when None.
            min_step: lower bound for the chosen step (the scrape interval).

        Raises:
            PrometheusError: unreachable, an HTTP error, or a PromQL error.
            ValueError: end before start.
        """
        s, e = _unix(start), _unix(end)
        if step is None:
            step = choose_step(s, e, min_step)
        if (e - s) / step + 1 > MAX_POINTS:
            raise ValueError(f"step {step}s over {e - s:.0f}s exceeds {MAX_POINTS} points")
        params = {"query": expr, "start": f"{s:.3f}", "end": f"{e:.3f}", "step": f"{step:g}"}
        data = self._get("/api/v1/query_range", params)
        return [
            Series(r["metric"], [(float(t), float(v)) for t, v in r["values"]])
            for r in data["result"]
        ]
