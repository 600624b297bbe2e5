"""PNG charts of the reports, drawn headless (matplotlib's Agg backend).

Each function takes series as collect.py returns them (``{"labels", "t", "v"}``
with ``t`` in seconds since the window start) and returns PNG bytes, so the
caller decides where and how (atomically) they are written.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from kafkaval.errors import KafkavalError


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as e:
        raise KafkavalError(
            "matplotlib is not installed: pip install 'kafkaval[report]' (or --no-charts)"
        ) from e
    matplotlib.use("Agg")  # no display on CI runners
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    # No timestamp in the PNG metadata: the same data gives the same bytes.
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def _plot(ax: Any, series: Sequence[dict[str, Any]], label: str, scale: float = 1.0) -> None:
    for s in series:
        name = s["labels"].get("name") or label
        ax.plot(s["t"], [v * scale for v in s["v"]], label=name, linewidth=1.2)


def _shade(axes: Sequence[Any], faults: Sequence[dict[str, Any]]) -> None:
    for f in faults:
        start, end = f.get("start_offset"), f.get("end_offset")
        if start is None:
            continue
        for ax in axes:
            ax.axvspan(start, end if end is not None else start, color="tab:red", alpha=0.2)


def rate_and_latency(series: dict[str, Any], title: str) -> bytes:
    """Achieved vs target rate (top) and latency percentiles in ms (bottom) over time."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    _plot(top, series.get("acked_rate", []), "acked msg/s")
    _plot(top, series.get("target_rate", []), "target msg/s")
    top.set_ylabel("msg/s")
    top.set_title(title)
    for key, label in (
        ("service_p50", "service p50"),
        ("service_p99", "service p99"),
        ("e2e_p99", "end-to-end p99"),
    ):
        _plot(bottom, series.get(key, []), label, scale=1000)
    bottom.set_ylabel("ms")
    bottom.set_xlabel("seconds since start")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def resources(series: dict[str, Any], title: str) -> bytes:
    """CPU (cores) and memory (MiB) of each container or process over time."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    _plot(top, series.get("cpu", []), "cpu")
    top.set_ylabel("CPU cores")
    top.set_title(title)
    _plot(bottom, series.get("memory", []), "memory", scale=1 / 1024**2)
    bottom.set_ylabel("memory MiB")
    bottom.set_xlabel("seconds since start")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    return _png(fig)


def delivery(series: dict[str, Any], faults: Sequence[dict[str, Any]], title: str) -> bytes:
    """Acked msg/s (top) and ack latency p50/p99 in ms (bottom), fault windows shaded."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    _plot(top, series.get("acked_rate", []), "acked msg/s")
    top.set_ylabel("msg/s")
    top.set_title(title)
    _plot(bottom, series.get("ack_p50", []), "ack p50", scale=1000)
    _plot(bottom, series.get("ack_p99", []), "ack p99", scale=1000)
    bottom.set_ylabel("ack latency ms")
    bottom.set_xlabel("seconds since start (shaded: fault active)")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(loc="upper right", fontsize=8)
    _shade([top, bottom], faults)
    fig.tight_layout()
    return _png(fig)


def trend(series: Sequence[dict[str, Any]], title: str) -> bytes:
    """The metrics that moved most over the last runs, relative to the first (1.0 = unchanged)."""
    plt = _pyplot()
    fig, ax = plt.subplots(1, 1, figsize=(9, 3.8))
    for s in series:
        ax.plot(s["t"], s["v"], marker="o", label=s["labels"]["name"], linewidth=1.2)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_ylabel("relative to first run")
    ax.set_xlabel("run (oldest first)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    return _png(fig)
