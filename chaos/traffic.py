"""The traffic around each fault: the producer's and every group's running counts.

A fault counts only when traffic flowed around it (``chaos/evidence.py``):
every group consumed before it and the producer sent while it was on. The
meter reads the running totals at an instant; ``TrafficMeter.window`` turns
four such instants into the fault's traffic record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kafkaval.waiting import wait_until


class TrafficMeter:
    """Counts of the producer's sends and acks and each group's deliveries, at an instant.

    Args:
        sent, acked: the producer's running totals.
        consumed: per group, its running total of recorded deliveries.
    """

    def __init__(
        self,
        sent: Callable[[], int],
        acked: Callable[[], int],
        consumed: Mapping[str, Callable[[], int]],
    ) -> None:
        self.sent, self.acked, self.consumed = sent, acked, consumed

    def snapshot(self) -> dict[str, Any]:
        return {
            "sent": self.sent(),
            "acked": self.acked(),
            "consumed": {g: count() for g, count in self.consumed.items()},
        }

    def zero(self) -> dict[str, Any]:
        """The counts before anything ran (every total starts at 0)."""
        return {"sent": 0, "acked": 0, "consumed": dict.fromkeys(self.consumed, 0)}

    def wait_consuming(
        self, since: dict[str, Any], timeout: float, stopped: Callable[[], bool] = lambda: False
    ) -> bool:
        """Wait until every group consumed something after ``since``: True, or False
        after ``timeout`` s or once ``stopped()``."""

        def live() -> bool:
            now = self.snapshot()["consumed"]
            return all(n > since["consumed"][g] for g, n in now.items())

        wait_until(lambda: stopped() or live(), timeout, 0.5)
        return live()

    @staticmethod
    def window(
        since: dict[str, Any],
        start: dict[str, Any],
        undone: dict[str, Any],
        gap_end: dict[str, Any],
    ) -> dict[str, Any]:
        """The traffic around one fault: before it (since the previous undo), while
        it was on, and from its start to the end of the gap after it."""
        return {
            "consumed_before_fault": {
                g: n - since["consumed"][g] for g, n in start["consumed"].items()
            },
            "sent_during_fault": undone["sent"] - start["sent"],
            "acked_during_fault": undone["acked"] - start["acked"],
            "acked_through_gap": gap_end["acked"] - start["acked"],
            "consumed_through_gap": {
                g: gap_end["consumed"][g] - n for g, n in start["consumed"].items()
            },
        }


def count_lines(path: Any) -> int:
    """Lines in a deliveries file (0 when it does not exist yet)."""
    try:
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 16), b""))
    except FileNotFoundError:
        return 0
