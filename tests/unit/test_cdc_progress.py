"""The CDC runs' live progress line, from the counters they serve to Prometheus."""

from __future__ import annotations

import io
import threading
import time

from cdc.metrics import CdcMetrics
from cdc.progress import progress_line


def _wait_for_lines(out: io.StringIO, n: int, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(out.getvalue().splitlines()) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return out.getvalue().splitlines()


def test_line_shows_committed_consumed_of_expected_and_extra() -> None:
    metrics = CdcMetrics()
    metrics.inc("cdc-snapshot", "changes_committed", 1000)
    metrics.inc("cdc-snapshot", "events_consumed", 250)
    out = io.StringIO()
    with progress_line(
        metrics, "cdc-snapshot", expected=1000, extra=lambda: "e2e p99 12 ms", out=out,
        show=None, every=0.05,
    ):  # fmt: skip
        lines = _wait_for_lines(out, 1)
    assert lines, "no progress line within 10 s"
    assert "cdc-snapshot:" in lines[0]
    assert "1,000 committed, 250/1,000 consumed" in lines[0]
    assert lines[0].endswith(", e2e p99 12 ms")


def test_no_line_when_turned_off() -> None:
    metrics = CdcMetrics()
    out = io.StringIO()
    with progress_line(metrics, "cdc-load", out=out, show=False, every=0.01):
        assert not any(t.name == "cdc-progress" for t in threading.enumerate())
    assert out.getvalue() == ""
