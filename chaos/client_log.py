"""The test clients' own librdkafka log lines, kept to name a client stall.

The verifiable producer (in process) and the verifiable consumers (their own
processes) send librdkafka's log to a logger of their own; its WARNING-or-worse
lines are kept, a bounded number of them, so that a scenario whose client
stopped can say which client bug it was (see chaos.bounds).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

# Lines kept per client: enough to name a stall, bounded in a long run.
MAX_CLIENT_WARNINGS = 50

# The log line librdkafka writes when it drops a leader=-1 update from a
# response and leaves the partition without a leader for good
# (confluentinc/librdkafka#5430, open in the 2.x line as of this writing).
LEADER_LOST_SIGNATURE = "new leader-1 not found in cache"


class _WarningsKept(logging.Handler):
    """Hands one client's WARNING-or-worse lines to ``keep``, within a bound.

    A broker that is down makes the client repeat one "Connection refused"
    line every reconnect; a repeat is not kept again, and the line that names
    a known bug is kept even after the bound is reached (bounded as well), so
    that the repeats cannot push it out.
    """

    def __init__(self, keep: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self._keep = keep
        self._seen: set[str] = set()
        self._known = 0

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        if line in self._seen:
            return
        if len(self._seen) < MAX_CLIENT_WARNINGS:
            self._seen.add(line)
            self._keep(line)
        elif LEADER_LOST_SIGNATURE in line and self._known < MAX_CLIENT_WARNINGS:
            self._known += 1
            self._seen.add(line)
            self._keep(line)


def warnings_logger(name: str, keep: Callable[[str], None]) -> logging.Logger:
    """A logger for a client's ``logger`` property that keeps its warning lines.

    It is outside the logging tree (no parent, not registered with the logging
    module): librdkafka's lines stay off the console, and a logger per client
    is not kept alive after the client.
    """
    logger = logging.Logger(name)
    logger.addHandler(_WarningsKept(keep))
    return logger


def known_cause(warnings: Iterable[str], where: str) -> str:
    """The part of a stall message that names the bug, if the log shows one."""
    known = [w for w in warnings if LEADER_LOST_SIGNATURE in w]
    if known:
        return f"its log shows librdkafka#5430 ({known[0]!r})"
    return f"see {where} in the record"
