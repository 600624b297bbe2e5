"""The test clients' own librdkafka log lines, kept to name a client stall.

The verifiable producer (in process) and the verifiable consumers (their own
processes) send librdkafka's log to a logger of their own; its WARNING-or-worse
lines are kept, a bounded number of them, so that a scenario whose client
stopped can say which client bug it was (see chaos.bounds).

Two known client bugs are named by debug lines: librdkafka#5430 (a client
that stops for good after a leader change) by a line of the metadata context,
librdkafka#4953 (an idempotent producer that bumps its epoch and re-sends what
the broker had already appended: duplicates in the log) by a line of the eos
context. A client that does not ask for those contexts never writes them.
`client_logging` asks for them, and the kept lines are the warnings plus the
debug lines that carry a signature (nothing else of the debug output is kept).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

# Lines kept per client: enough to name a stall, bounded in a long run.
MAX_CLIENT_WARNINGS = 50

# The log line librdkafka writes when it drops a leader=-1 update from a
# response and leaves the partition without a leader for good
# (confluentinc/librdkafka#5430, open in the 2.x line as of this writing).
LEADER_LOST_SIGNATURE = "new leader-1 not found in cache"
# The line an idempotent producer writes when it starts a new epoch (or a new
# producer id) for messages still in flight: rd_kafka_idemp_drain_epoch_bump
# and rd_kafka_idemp_drain_reset. A message the broker appended before the bump
# and that the client re-sends after it carries a sequence the broker cannot
# match to the first copy: a duplicate (confluentinc/librdkafka#4953, open in
# the 2.x line as of this writing).
EPOCH_BUMP_SIGNATURE = "Beginning partition drain for"
SIGNATURES = (LEADER_LOST_SIGNATURE, EPOCH_BUMP_SIGNATURE)
# The librdkafka debug contexts whose lines include those (rd_kafka_dbg of
# METADATA, and of EOS for the idempotent producer only): without them
# librdkafka does not write the lines at all. A consumer has no epoch, and gets
# no more debug output than it needs.
SIGNATURE_DEBUG_CONTEXTS = "metadata"
PRODUCER_DEBUG_CONTEXTS = "metadata,eos"


class _WarningsKept(logging.Handler):
    """Hands one client's WARNING-or-worse lines to ``keep``, within a bound.

    A broker that is down makes the client repeat one "Connection refused"
    line every reconnect; a repeat is not kept again, and the line that names
    a known bug is kept even after the bound is reached (bounded as well), so
    that the repeats cannot push it out. Below WARNING only the lines that
    name a known bug are kept: the debug contexts are asked for those lines alone.
    """

    def __init__(self, keep: Callable[[str], None]) -> None:
        super().__init__(logging.DEBUG)
        self._keep = keep
        self._seen: set[str] = set()
        self._known = 0

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        known = any(signature in line for signature in SIGNATURES)
        if line in self._seen or (record.levelno < logging.WARNING and not known):
            return
        if len(self._seen) < MAX_CLIENT_WARNINGS:
            self._seen.add(line)
            self._keep(line)
        elif known and self._known < MAX_CLIENT_WARNINGS:
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


def client_logging(
    name: str,
    keep: Callable[[str], None],
    debug: str | None = None,
    signature_contexts: str = SIGNATURE_DEBUG_CONTEXTS,
) -> dict[str, Any]:
    """The client properties that keep its warning lines and the bugs' signatures.

    ``logger`` as `warnings_logger`, and ``debug``: the client's own contexts
    (``debug``, from its settings) plus ``signature_contexts``, those that
    write the signature lines (librdkafka writes no debug line otherwise;
    a producer passes PRODUCER_DEBUG_CONTEXTS).
    """
    contexts = [c for c in (debug or "").split(",") if c.strip()]
    for c in signature_contexts.split(","):
        if c not in contexts:
            contexts.append(c)
    return {"logger": warnings_logger(name, keep), "debug": ",".join(contexts)}


def _first_with(signature: str, lines: Iterable[str]) -> str | None:
    return next((line for line in lines if signature in line), None)


def known_cause(warnings: Iterable[str]) -> str | None:
    """The part of a stall message that names the bug; None when the log shows none."""
    line = _first_with(LEADER_LOST_SIGNATURE, warnings)
    return None if line is None else f"its log shows librdkafka#5430 ({line!r})"


def duplicates_cause(warnings: Iterable[str]) -> str | None:
    """Why an idempotent producer's messages may be in the log twice; None when
    its log shows no epoch bump."""
    line = _first_with(EPOCH_BUMP_SIGNATURE, warnings)
    if line is None:
        return None
    return (
        f"the producer's log shows an idempotent epoch bump, librdkafka#4953 ({line!r}): "
        "after a bump the broker cannot tell a re-sent message from a new one"
    )
