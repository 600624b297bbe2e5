"""The one wait-until-deadline loop: poll a condition until it holds or time runs out."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    interval: float = 0.2,
    check: Callable[[], None] = lambda: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> bool:
    """Poll ``condition`` until it is true (True) or ``timeout`` s pass (False).

    ``condition`` is polled at least once, then every ``interval`` s; ``check``
    runs between polls and may raise to give up early (for example when the
    process being waited for has exited). ``condition`` may raise too, to
    report a state that will never turn true.

    Args:
        condition: what is waited for.
        timeout: seconds, measured on ``clock``.
        interval: seconds slept between polls.
        check: called after each false poll.
        clock: monotonic seconds; ``sleep``: sleeps (both injectable for tests).

    Raises:
        Whatever ``condition`` or ``check`` raise.
    """
    deadline = clock() + timeout
    while True:
        if condition():
            return True
        check()
        if clock() >= deadline:
            return False
        sleep(interval)
