"""What a performance run prints: the live progress line and the end-of-run tables.

``Progress`` is the live line (rewritten in place on a terminal, a line a
second otherwise); ``RssTicker`` is the thread that samples memory and calls
the progress tick; ``profile_line`` is the line after each repetition (with its
failed thresholds) and ``summary_table`` the table of a whole run record.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from kafkaval.record_types import PerformanceRecord
from kafkaval.verdict import Check, failed, format_check
from stack.processes import rss_bytes


class RssTicker(threading.Thread):
    """Every ``every`` seconds: samples this process's RSS into ``rss`` and calls ``tick``.

    ``tick`` gets the seconds since the thread was made (it prints progress).
    Stop with ``stop_event.set()``, then ``join``.
    """

    def __init__(self, every: float, tick: Callable[[float], None]) -> None:
        super().__init__(daemon=True, name="rss-ticker")
        self.every = every
        self.tick = tick
        self.rss: list[tuple[float, int]] = []
        self.stop_event = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            now = time.monotonic() - self.t0
            self.rss.append((now, rss_bytes() or 0))
            self.tick(now)


class Progress:
    """The live line: profile, elapsed/ETA, current rate, p99, acked/failed."""

    def __init__(self, out: TextIO, live: bool | None) -> None:
        self.out = out
        self.tty = out.isatty() if live is None else live
        self._last_print = 0.0

    def line(self, text: str) -> None:
        if self.tty:
            self.out.write("\r\033[K" + text)
        else:
            now = time.monotonic()
            if now - self._last_print < 1.0:
                return
            self._last_print = now
            self.out.write(text + "\n")
        self.out.flush()

    def done(self) -> None:
        if self.tty:
            self.out.write("\r\033[K")
            self.out.flush()


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1e3:.1f}"


def _count(v: int | None) -> str:
    return "-" if v is None else str(v)


def profile_line(name: str, r: dict[str, Any]) -> str:
    """The verdict line printed after one repetition of a profile, then one
    line per failed threshold (``format_check``)."""
    verdict = "PASS" if r["passed"] else "FAIL"
    lost = failed(Check.from_record(k, c) for k, c in r["thresholds"].items())
    names = f" (failed: {', '.join(c.name for c in lost)})" if lost else ""
    if "startup_seconds" in r:
        line = f"   {verdict} startup {r['startup_seconds']:.2f} s{names}"
    else:
        rate = r["achieved_rate"]
        line = (
            f"   {verdict} {name}: {r['acked']}/{r['sent']} acked, {r['failed']} failed, "
            f"{r['consumed']} consumed, {rate or 0:,.0f} msg/s, service p95 "
            f"{_ms(r['service_latency_seconds']['p95'])} ms{names}"
        )
    return "\n".join([line, *(f"     {format_check(c)}" for c in lost)])


def summary_table(record: PerformanceRecord) -> str:
    """The end-of-run table (one row per profile)."""
    head = (
        "profile",
        "result",
        "target/s",
        "achieved/s",
        "sent",
        "acked",
        "failed",
        "consumed",
        "svc p50 ms",
        "svc p95",
        "svc p99",
        "resp p99",
        "e2e p99",
        "other",
    )
    rows = [head]
    for name, r in record["profiles"].items():
        other = ""
        if r.get("error"):
            other = f"error: {r['error']}"
        elif r.get("startup_seconds") is not None:
            other = f"startup {r['startup_seconds']:.2f} s"
        elif r.get("recovery_seconds", 0) is None:
            other = "no recovery"
        elif r.get("recovery_seconds") is not None:
            other = f"recovery {r['recovery_seconds']:.2f} s"
        elif r.get("drain_seconds") is not None and name == "snapshot":
            other = f"produce {r['produce_seconds']:.1f} s, drain {r['drain_seconds']:.1f} s"
        elif name == "sustained" and r.get("drift"):
            d = r["drift"]
            other = (
                f"p99 {_ms(d['p99_first_quarter_seconds'])}->{_ms(d['p99_last_quarter_seconds'])}"
            )
        rows.append(
            (
                name,
                "PASS" if r["passed"] else "FAIL",
                "-"
                if "startup_seconds" in r
                else ("max" if not r.get("target_rate") else f"{r['target_rate']:g}"),
                "-" if r.get("achieved_rate") is None else f"{r['achieved_rate']:,.0f}",
                _count(r["sent"]),
                _count(r["acked"]),
                _count(r["failed"]),
                _count(r["consumed"]),
                _ms(r["service_latency_seconds"]["p50"]),
                _ms(r["service_latency_seconds"]["p95"]),
                _ms(r["service_latency_seconds"]["p99"]),
                _ms(r["response_latency_seconds"]["p99"]),
                _ms(r["e2e_latency_seconds"]["p99"]),
                other,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += _spread_lines(record)
    verdict = "PASSED" if record["passed"] else "FAILED"
    return "\n".join(lines) + f"\nperformance suite {verdict}"


# Spread fields shown under the table with REPEAT > 1, and how to print them.
_SPREAD_SHOWN = (
    ("achieved_rate", "achieved/s", lambda v: f"{v:,.0f}"),
    ("service_latency_seconds.p95", "svc p95 ms", _ms),
    ("service_latency_seconds.p99", "svc p99 ms", _ms),
    ("e2e_latency_seconds.p99", "e2e p99 ms", _ms),
    ("startup_seconds", "startup s", lambda v: f"{v:.2f}"),
)


def _spread_lines(record: PerformanceRecord) -> list[str]:
    """With repetitions: median [min..max] of the key figures per profile."""
    if record.get("repeat", 1) <= 1:
        return []
    lines = [f"\nmedian [min .. max] over {record['repeat']} repetitions:"]
    for name, r in record["profiles"].items():
        spread = r.get("spread") or {}
        parts = [
            f"{label} {fmt(spread[key]['median'])} [{fmt(spread[key]['min'])} .. "
            f"{fmt(spread[key]['max'])}]"
            for key, label, fmt in _SPREAD_SHOWN
            if key in spread
        ]
        lines.append(f"  {name}: " + ("; ".join(parts) or "no repeated figures"))
    return lines
