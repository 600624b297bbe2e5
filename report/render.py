"""Context -> Markdown (jinja2) and PNG charts; building both reports; writing them atomically.

Everything is rendered in memory first and written only when every report that
can be built is complete, so a failure half-way leaves the previous reports and
images exactly as they were; each file is replaced atomically.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

from kafkaval.errors import KafkavalError
from kafkaval.files import write_atomic
from kafkaval.prom_queries import QueryRunner
from kafkaval.record_types import DeliveryRecord, PerformanceRecord
from kafkaval.records import iso
from report import charts as charts_mod
from report.delivery import collect_delivery
from report.performance import collect_performance
from report.recommendations import recommend
from report.trend import chart_series

TEMPLATES = Path(__file__).resolve().parent / "templates"
PERFORMANCE_REPORT = "performance-baseline.md"
DELIVERY_REPORT = "delivery-guarantees.md"


@dataclass
class Rendered:
    """One report ready to write: its Markdown and the PNGs it links to."""

    filename: str
    text: str
    images: dict[str, bytes] = field(default_factory=dict)


# ---- formatting filters: one place decides how every number looks ------------


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ms(seconds: Any) -> str:
    if seconds is None:
        return "—"
    ms = seconds * 1000
    return f"{ms:.3g}" if ms < 100 else f"{ms:,.0f}"


def _pct(value: Any) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _bytes(value: Any) -> str:
    if value is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError


def _val(value: Any) -> str:
    """A threshold limit or measured value as given, floats to 4 significant digits."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _per_s(value: Any) -> str:
    return "—" if value is None else f"{_bytes(value)}/s"


def _verdict(value: Any) -> str:
    return {True: "✅ PASS", False: "❌ FAIL"}.get(value, "—")


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "—" if value is None else str(value)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def template_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,  # a typo in a template fails the test, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # Markdown, not HTML
    )
    env.filters.update(
        num=_num,
        ms=_ms,
        pct=_pct,
        bytes=_bytes,
        per_s=_per_s,
        val=_val,
        verdict=_verdict,
        when=_when,
        slug=_slug,
    )
    return env


def render_performance(
    context: dict[str, Any], now: datetime, images: dict[str, bytes] | None = None
) -> Rendered:
    """performance-baseline.md from a collected context (plus recommendations)."""
    ctx = {**context, "generated_at": iso(now), "images": sorted(images or {})}
    ctx["recommendations"] = recommend(context)
    text = template_env().get_template("performance-baseline.md.j2").render(**ctx)
    return Rendered(PERFORMANCE_REPORT, text, dict(images or {}))


def render_delivery(
    context: dict[str, Any], now: datetime, images: dict[str, bytes] | None = None
) -> Rendered:
    """delivery-guarantees.md from a collected context."""
    ctx = {**context, "generated_at": iso(now), "images": sorted(images or {})}
    text = template_env().get_template("delivery-guarantees.md.j2").render(**ctx)
    return Rendered(DELIVERY_REPORT, text, dict(images or {}))


def performance_images(context: dict[str, Any]) -> dict[str, bytes]:
    """PNG name -> bytes for the performance report's charts."""
    images = {}
    for p in context["profiles"]:
        if p.get("series"):
            images[f"performance-{_slug(p['name'])}.png"] = charts_mod.rate_and_latency(
                p["series"], f"{p['name']}: rate and latency"
            )
    if context.get("series"):
        images["performance-resources.png"] = charts_mod.resources(
            context["series"], "resources per container / process"
        )
    trend_series = chart_series(context["trend"]) if context.get("trend") else []
    if trend_series:
        images["performance-trend.png"] = charts_mod.trend(
            trend_series, "trend: the metrics that moved most over the last runs"
        )
    return images


def delivery_images(context: dict[str, Any]) -> dict[str, bytes]:
    """PNG name -> bytes for the delivery report's charts."""
    return {
        f"delivery-{_slug(s['key'])}.png": charts_mod.delivery(
            s["series"], s["faults"], f"{s['key']} ({s['cluster']}): acked msg/s, faults shaded"
        )
        for s in context["scenarios"]
        if s.get("series")
    }


def build_performance(
    record: PerformanceRecord,
    runner: QueryRunner,
    now: datetime,
    charts: bool = True,
    fallback_env: dict[str, Any] | None = None,
    trend: dict[str, Any] | None = None,
    cdc: dict[str, Any] | None = None,
) -> Rendered:
    """Query, chart and render the performance report (nothing written).

    Args:
        trend: the "Trend and regressions" context (`report.trend.collect_trend`);
            None: the section says there is no history.
        cdc: the "Debezium pipeline" context (`report.cdc.collect_cdc`); None:
            the section is left out.

    Raises:
        PrometheusError: unreachable, a query rejected, or no data in the run window.
    """
    context = collect_performance(record, runner, charts=charts, fallback_env=fallback_env)
    context["trend"] = trend
    context["cdc"] = cdc
    images = performance_images(context) if charts else {}
    return render_performance(context, now, images)


def build_delivery(
    record: DeliveryRecord,
    runner: QueryRunner,
    now: datetime,
    charts: bool = True,
    fallback_env: dict[str, Any] | None = None,
) -> Rendered:
    """Query, chart and render the delivery report (nothing written).

    Raises:
        PrometheusError: unreachable, a query rejected, or no data in the run window.
    """
    context = collect_delivery(record, runner, charts=charts, fallback_env=fallback_env)
    images = delivery_images(context) if charts else {}
    return render_delivery(context, now, images)


# The reports, in the order they are built; each from ``latest-<kind>.json``.
REPORT_KINDS = ("performance", "delivery")


def write_reports(reports: list[Rendered], reports_dir: Path) -> list[Path]:
    """Write each report's images, then its Markdown, every file atomically.

    Raises:
        KafkavalError: the reports directory cannot be written.
    """
    written = []
    try:
        for rep in reports:
            for name, data in rep.images.items():
                written.append(write_atomic(reports_dir / name, data))
            written.append(write_atomic(reports_dir / rep.filename, rep.text))
    except OSError as e:
        raise KafkavalError(
            f"cannot write reports to {reports_dir}: {e.strerror}; fix permissions or set "
            "reports_dir"
        ) from e
    return written
