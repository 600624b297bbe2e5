"""Bounded faults: apply, hold for at most a maximum duration, undo, verify the undo.

A fault is one of `FAULT_KINDS` applied to a `Target`:

- ``kill``: SIGKILL, held down for ``duration`` s, then started again;
- ``restart``: graceful stop (SIGTERM, wait), held down, started again;
- ``pause``: SIGSTOP (docker pause) for ``duration`` s, then resumed;
- ``partition``: all network traffic dropped both ways for ``duration`` s, then healed.

The undo runs in ``finally``: after the hold, on an exception, and when the
runner's stop event is set (the SIGINT/SIGTERM handlers of the suite only set
that event, so the hold ends early and the undo runs in normal code, never
inside a signal handler). After the undo the target must pass
``verify_restored`` (running, not paused, no partition rules, serving) within
``restore_timeout``; the `FaultRecord` says whether it did, and the suite does
not judge delivery results while a rollback failed.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from chaos.errors import ChaosError
from chaos.targets import Target
from kafkaval.errors import UsageError
from kafkaval.records import iso, utc_now

FAULT_KINDS = ("kill", "restart", "pause", "partition")
MAX_FAULT_SECONDS = 300.0


@dataclasses.dataclass
class FaultRecord:
    """One applied fault, as it goes into the run record."""

    kind: str
    target: str
    started_at: str
    ended_at: str = ""
    rolled_back: bool = False
    planned_seconds: float = 0.0
    held_seconds: float = 0.0
    problems: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def validate_fault(kind: str, duration: float) -> None:
    """Check a fault before anything is touched.

    Raises:
        UsageError: unknown kind, or duration not in (0, MAX_FAULT_SECONDS].
    """
    if kind not in FAULT_KINDS:
        raise UsageError(f"unknown fault {kind!r}; choose one of {', '.join(FAULT_KINDS)}")
    if not 0 < duration <= MAX_FAULT_SECONDS:
        raise UsageError(
            f"fault duration must be > 0 and <= {MAX_FAULT_SECONDS:.0f} s, not {duration:g}"
        )


def _apply(kind: str, target: Target, graceful_timeout: float) -> None:
    if kind == "kill":
        target.kill()
    elif kind == "restart":
        target.stop(graceful_timeout)
    elif kind == "pause":
        target.pause()
    elif kind == "partition":
        target.partition()


def _undo(kind: str, target: Target) -> None:
    # Each undo is safe to run when the fault was only half applied.
    if kind in ("kill", "restart"):
        target.start()
    elif kind == "pause":
        target.resume()
    elif kind == "partition":
        target.heal()


class FaultRunner:
    """Applies faults one at a time and remembers them for the run record.

    Args:
        stop: set by the runner's signal handlers; ends a hold early.
        on_change: called ``(kind, target_name, active)`` when a fault starts
            and ends (drives the Prometheus fault gauge).
        restore_timeout: seconds the undone target has to pass ``verify_restored``.
        graceful_timeout: SIGTERM grace for ``restart``.
        clock: monotonic clock; now: wall clock for the record.
    """

    def __init__(
        self,
        stop: threading.Event | None = None,
        on_change: Callable[[str, str, bool], None] = lambda _k, _t, _a: None,
        restore_timeout: float = 90.0,
        graceful_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.stop = stop or threading.Event()
        self.on_change = on_change
        self.restore_timeout = restore_timeout
        self.graceful_timeout = graceful_timeout
        self.clock = clock
        self.now = now
        self.records: list[FaultRecord] = []

    @contextmanager
    def active(self, kind: str, target: Target, max_seconds: float) -> Iterator[FaultRecord]:
        """Apply the fault for the duration of the block; undo and verify on any exit.

        The block should return within ``max_seconds`` (use `hold`); the undo
        runs whatever happens inside it, exceptions and KeyboardInterrupt included.

        Raises:
            UsageError: bad kind or duration (nothing touched).
            ChaosError: the fault could not be applied (already undone).
        """
        validate_fault(kind, max_seconds)
        record = FaultRecord(kind, target.name, iso(self.now()), planned_seconds=max_seconds)
        self.records.append(record)
        began = self.clock()
        self.on_change(kind, target.name, True)
        try:
            _apply(kind, target, self.graceful_timeout)
            yield record
        finally:
            record.held_seconds = round(self.clock() - began, 3)
            self._rollback(kind, target, record)
            self.on_change(kind, target.name, False)

    def _rollback(self, kind: str, target: Target, record: FaultRecord) -> None:
        try:
            _undo(kind, target)
        except ChaosError as e:
            record.problems.append(f"undo failed: {e}")
        # Verify even after a failed undo: it reports what is left.
        target.wait_healthy(self.restore_timeout)
        try:
            record.problems += target.verify_restored()
        except ChaosError as e:
            record.problems.append(f"verification failed: {e}")
        record.rolled_back = not record.problems
        record.ended_at = iso(self.now())

    def hold(self, seconds: float) -> bool:
        """Wait ``seconds`` unless stopped first; True if the full time passed."""
        return not self.stop.wait(seconds)

    def run(self, kind: str, target: Target, seconds: float) -> FaultRecord:
        """Apply, hold for ``seconds`` (or until stopped), undo, verify."""
        with self.active(kind, target, seconds) as record:
            self.hold(seconds)
        return record

    def all_rolled_back(self) -> bool:
        return all(r.rolled_back for r in self.records)
