"""The live progress line of the CDC runs (snapshot, load), like the performance suite's.

Read once a second from the run's own counters (the ones served to
Prometheus): changes committed, change events consumed and their rate, and
for runs that measure it the end-to-end latency so far.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from cdc.metrics import CdcMetrics
from loadgen.console import Progress


@contextlib.contextmanager
def progress_line(
    metrics: CdcMetrics,
    scenario: str,
    expected: int | None = None,
    extra: Callable[[], str] | None = None,
    out: TextIO = sys.stdout,
    show: bool | None = None,
    every: float = 1.0,
) -> Iterator[None]:
    """Print the run's progress every ``every`` s while the block runs.

    Args:
        expected: events the run must read (the snapshot's rows), shown as n/expected.
        extra: more text for the line (e.g. latency so far); "" for none.
        show: False: no line; True: one line rewritten in place; None: that on a
            terminal, else a line per second (logs).
    """
    if show is False:
        yield
        return
    progress = Progress(out, show)
    stop = threading.Event()
    t0 = time.monotonic()

    def tick() -> None:
        last_consumed, last_t = 0.0, t0
        while not stop.wait(every):
            now = time.monotonic()
            consumed = metrics.count(scenario, "events_consumed")
            committed = metrics.count(scenario, "changes_committed")
            rate = (consumed - last_consumed) / max(now - last_t, 1e-9)
            last_consumed, last_t = consumed, now
            read = f"{consumed:,.0f}" + (f"/{expected:,}" if expected else "")
            text = (
                f"{scenario}: {now - t0:,.0f} s, {committed:,.0f} committed, {read} consumed "
                f"({rate:,.0f}/s)"
            )
            more = extra() if extra else ""
            progress.line(f"{text}, {more}" if more else text)

    thread = threading.Thread(target=tick, name="cdc-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        progress.done()
