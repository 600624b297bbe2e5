"""How many records each consumer group may be delivered twice, derived from the run.

The verifiable consumer records a batch (one poll: at most ``batch`` records)
and then commits it synchronously. A record comes again only if its group
resumes from a commit older than it: after a rebalance, or after its commit
failed. So the records at risk at any instant are those consumed since the
group's last successful commit, and only a fault that hits the group can
bring them back:

- a fault on the group's own consumer (kill, restart): the coordinator is
  healthy and every commit before the fault succeeded, so at most the batch in
  hand when it was killed comes again: ``batch``;
- a broker fault hits every group: while it lasts and until the cluster has
  recovered (the undo verified), a group's commits may fail (its coordinator
  may be the broker faulted), and a group that keeps fetching from the other
  brokers keeps consuming meanwhile. At most what the producer wrote in that
  window (the run's rate times the window's measured length) plus the batch
  in hand comes again;
- a group that no fault hits redelivers nothing: 0.

The batch is a full one, whatever the rate: after a fault every group lags,
and a lagging consumer's polls return full batches. The rate sets the
broker-fault term, from the run's own fault windows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from kafkaval.records import parse_iso


def _window_seconds(fault: dict[str, Any]) -> float:
    start = parse_iso(fault["started_at"])
    end = parse_iso(fault["ended_at"] or fault["started_at"])
    return max(0.0, (end - start).total_seconds())


def redelivery_bounds(
    groups: Sequence[str],
    applied: Sequence[tuple[str, dict[str, Any]]],
    rate: float,
    batch: int,
) -> dict[str, dict[str, Any]]:
    """Per group: its redelivery bound and the terms it is made of.

    Args:
        groups: the scenario's consumer groups.
        applied: (role, fault record) of each fault applied, role ``broker``
            or ``consumer:<group>``; the record's start and end give its window.
        rate: the producer's rate, messages per second.
        batch: the consumer's batch (records per poll, committed after each).
    """
    out: dict[str, dict[str, Any]] = {}
    for group in groups:
        terms = []
        for role, fault in applied:
            if role == "broker":
                seconds = _window_seconds(fault)
                terms.append(
                    {
                        "fault": f"{fault['kind']} on {fault['target']}",
                        "records": batch + math.ceil(rate * seconds),
                        "why": f"one batch ({batch}) + {rate:g} msg/s x {seconds:.1f} s "
                        "fault window (commits may fail until the cluster recovered)",
                    }
                )
            elif role == f"consumer:{group}":
                terms.append(
                    {
                        "fault": f"{fault['kind']} on {fault['target']}",
                        "records": batch,
                        "why": f"the one batch ({batch}) recorded but not committed when "
                        "its consumer stopped",
                    }
                )
        out[group] = {"bound": sum(t["records"] for t in terms), "terms": terms}
    return out
