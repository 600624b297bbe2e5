"""The one signal guard: SIGINT/SIGTERM ask a run to stop, nothing more.

A handler only flips a flag (``running.clear`` or ``stop.set``); the run's
loop sees it, ends, and undoes what it did in ordinary code (faults rolled
back, topics deleted, the record written), as confluent-kafka-python's
verifiable producer does.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def stop_on_signals(on_signal: Callable[[], None]) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM call ``on_signal`` instead of ending the process.

    The previous handlers are restored on leaving. Off the main thread (where
    Python cannot install handlers) the block runs unguarded.

    Args:
        on_signal: what a signal does, e.g. ``running.clear`` or ``stop.set``.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signo: int, _frame: Any) -> None:
        on_signal()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
