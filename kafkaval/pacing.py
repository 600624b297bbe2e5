"""Pacing by an intended-time schedule (coordinated-omission-correct).

Message ``i`` of a phase at ``rate`` msg/s is due at ``t0 + i / rate``, where
``t0`` is fixed when the phase starts. A sender that stalls does not push the
schedule back: after a stall the overdue messages go out at once, and their
send delay (intended -> send) and response time (intended -> ack) show the
stall, while their service time (send -> ack) does not. A phase with no rate
("as fast as possible") has no schedule: each message is due when the sender
is ready for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    """``count`` messages at ``rate`` msg/s (None: as fast as possible)."""

    count: int
    rate: float | None

    @property
    def duration(self) -> float | None:
        return None if self.rate is None else self.count / self.rate


def paced(
    phases: Sequence[Phase],
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[float], object] = time.sleep,
    running: Callable[[], bool] = lambda: True,
    on_phase: Callable[[Phase], None] = lambda _p: None,
    deadline: float | None = None,
) -> Iterator[tuple[int, float]]:
    """Yield ``(i, intended)`` for each message once it is due.

    Args:
        phases: rated phases, run one after the other; each continues the
            schedule of the one before without a gap.
        clock: monotonic seconds.
        wait: block for about the given seconds (may return early; the loop
            re-checks the clock). The producer passes ``poll`` here so
            delivery reports are served while waiting.
        running: checked before each message and after each wait; False
            stops early (a signal), also while waiting for a due time.
        on_phase: called when a phase starts (e.g. to publish its target rate).
        deadline: a time of ``clock`` that ends a rated schedule: a message due
            at or after it is not waited for, and a sender still behind
            schedule when the clock reaches it stops there.

    Raises:
        ValueError: a phase without a rate > 0.
    """
    i = 0
    t0 = clock()
    for phase in phases:
        on_phase(phase)
        if phase.rate is None or phase.rate <= 0:
            raise ValueError(f"rate must be > 0, not {phase.rate}")
        interval = 1.0 / phase.rate
        for j in range(phase.count):
            due = t0 + j * interval
            if not running() or (deadline is not None and due >= deadline):
                return
            now = clock()
            while now < due:
                wait(due - now)
                if not running():
                    return
                now = clock()
            if deadline is not None and now >= deadline:
                return
            yield i, due
            i += 1
        t0 += phase.count * interval
