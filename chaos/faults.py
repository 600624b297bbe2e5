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
not judge delivery results while a rollback failed. Any failure of an undo is
caught and recorded (verification then says what is left), and a runner with
a fault not rolled back refuses every further fault: faulting a cluster that
is already broken would only pile one unknown on another.

A fault may carry an effect probe (`chaos.evidence`): it watches the cluster
under test from just before the fault until the effect is seen or a bound
after the undo passes, and its finding goes into the record as
``observed_effect`` (None: the fault had no observed effect).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

from chaos.errors import ChaosError
from chaos.targets import Target
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.records import iso, utc_now

FAULT_KINDS = ("kill", "restart", "pause", "partition")
MAX_FAULT_SECONDS = 300.0
RESTORE_TIMEOUT = 90.0
GRACEFUL_TIMEOUT = 30.0
# The longest a stop request can wait for the fault in progress to be undone:
# a graceful stop under way, then the restore wait (a stopped run does not
# wait for effects). Whoever stops a run (the scheduler) must grant more.
LONGEST_UNDO_SECONDS = GRACEFUL_TIMEOUT + RESTORE_TIMEOUT


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
    # What the cluster under test showed of the fault: {what, when, how}; None: nothing.
    observed_effect: dict[str, Any] | None = None
    # The cluster and node the target was bound to (chaos.binding), for broker targets.
    bound_to: dict[str, Any] | None = None
    # Traffic in the fault window (chaos.traffic.TrafficMeter.window), filled in by the scenario.
    traffic: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class EffectProbe(Protocol):
    """Watches the cluster under test for a fault's effect (see chaos.evidence)."""

    def start(self) -> None:
        """Take the baseline and start watching; called before the fault is applied."""

    def finish(self, timeout: float) -> dict[str, Any] | None:
        """Stop watching, after waiting up to ``timeout`` s for an effect not yet seen;
        the effect ``{what, when, how}`` or None."""


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
        effect_timeout: seconds after the undo an effect probe may still take
            to see the fault's effect (a dead broker is fenced only after
            broker.session.timeout.ms).
        graceful_timeout: SIGTERM grace for ``restart``.
        clock: monotonic clock; now: wall clock for the record.
    """

    def __init__(
        self,
        stop: threading.Event | None = None,
        on_change: Callable[[str, str, bool], None] = lambda _k, _t, _a: None,
        restore_timeout: float = RESTORE_TIMEOUT,
        effect_timeout: float = 30.0,
        graceful_timeout: float = GRACEFUL_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.stop = stop or threading.Event()
        self.on_change = on_change
        self.restore_timeout = restore_timeout
        self.effect_timeout = effect_timeout
        self.graceful_timeout = graceful_timeout
        self.clock = clock
        self.now = now
        self.records: list[FaultRecord] = []
        self.left_broken: list[str] = []  # one line per fault not rolled back

    @contextmanager
    def active(
        self, kind: str, target: Target, max_seconds: float, probe: EffectProbe | None = None
    ) -> Iterator[FaultRecord]:
        """Apply the fault for the duration of the block; undo and verify on any exit.

        The block should return within ``max_seconds`` (use `hold`); the undo
        runs whatever happens inside it, exceptions and KeyboardInterrupt included.
        With ``probe``, the record's ``observed_effect`` is what it saw.

        Raises:
            UsageError: bad kind or duration (nothing touched).
            ChaosError: an earlier fault of this runner was not rolled back
                (nothing touched), or the fault could not be applied (already undone).
        """
        validate_fault(kind, max_seconds)
        if self.left_broken:
            raise ChaosError(
                f"no further faults: an earlier one was not rolled back ({self.left_broken[0]})"
            )
        record = FaultRecord(kind, target.name, iso(self.now()), planned_seconds=max_seconds)
        self.records.append(record)
        began = self.clock()
        self.on_change(kind, target.name, True)
        watching = False
        try:
            if probe is not None:
                probe.start()
                watching = True
            _apply(kind, target, self.graceful_timeout)
            yield record
        finally:
            record.held_seconds = round(self.clock() - began, 3)
            self._rollback(kind, target, record)
            if watching:
                assert probe is not None
                record.observed_effect = self._effect(probe, record)
            self.on_change(kind, target.name, False)

    def _effect(self, probe: EffectProbe, record: FaultRecord) -> dict[str, Any] | None:
        # A probe that breaks must not hide the rollback's outcome; the fault
        # then simply has no observed effect, which fails the scenario.
        try:
            waits = record.rolled_back and not self.stop.is_set()
            return probe.finish(self.effect_timeout if waits else 0.0)
        except Exception as e:  # any probe failure means "not observed"
            record.problems.append(f"effect probe failed: {e}")
            return None

    def _rollback(self, kind: str, target: Target, record: FaultRecord) -> None:
        # Any exception of the undo or of the checks is caught, not only
        # ChaosError: a broker restart can fail with a KafkavalError or an
        # OSError, and the verification below must still run and say what is
        # left broken. (BaseException, e.g. a second Ctrl-C, still propagates.)
        try:
            _undo(kind, target)
        except Exception as e:  # recorded; verification decides
            record.problems.append(f"undo failed: {_one_line(e)}")
        try:
            target.wait_healthy(self.restore_timeout)
            record.problems += target.verify_restored()
        except Exception as e:  # recorded as a problem, never a pass
            record.problems.append(f"verification failed: {_one_line(e)}")
        record.rolled_back = not record.problems
        record.ended_at = iso(self.now())
        if not record.rolled_back:
            self.left_broken.append(f"{kind} on {target.name}: {'; '.join(record.problems)}")

    def hold(self, seconds: float) -> bool:
        """Wait ``seconds`` unless stopped first; True if the full time passed."""
        return not self.stop.wait(seconds)

    def run(
        self, kind: str, target: Target, seconds: float, probe: EffectProbe | None = None
    ) -> FaultRecord:
        """Apply, hold for ``seconds`` (or until stopped), undo, verify (see `active`)."""
        with self.active(kind, target, seconds, probe) as record:
            self.hold(seconds)
        return record

    def all_rolled_back(self) -> bool:
        return all(r.rolled_back for r in self.records)


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    # Our own errors are already one line naming cause and fix; others get their type.
    return text if isinstance(e, KafkavalError) else f"{type(e).__name__}: {text}"
