"""The delivery scenarios as plain data: what each one does, on which cluster shapes.

A scenario names its consumer groups and its faults, in order; each fault is a
kind (a chaos.faults kind) applied to a role:

- ``broker``: the broker chosen for the run (``--target``, else the leader of
  partition 0 of the scenario's topic);
- ``consumer:<group>``: the one consumer process of that group.

Every scenario writes to a fresh topic of ``PARTITIONS`` partitions, laid out
per shape by ``topic_layout``. What must hold afterwards is chaos.bounds; how a
scenario is run is chaos.scenarios.
"""

from __future__ import annotations

import dataclasses

SHAPES = ("single", "3-broker")
PARTITIONS = 3


@dataclasses.dataclass(frozen=True)
class Fault:
    kind: str  # a chaos.faults kind
    role: str  # "broker" (the chosen broker) or "consumer:<group>"


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    groups: tuple[str, ...]
    faults: tuple[Fault, ...]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "broker-restart",
            "graceful restart, then kill -9, of a broker while producing and consuming",
            ("g1",),
            (Fault("restart", "broker"), Fault("kill", "broker")),
        ),
        Scenario(
            "consumer-restart",
            "kill -9, then gracefully restart, the only consumer of a group mid-stream",
            ("g1",),
            (Fault("kill", "consumer:g1"), Fault("restart", "consumer:g1")),
        ),
        Scenario(
            "network-partition",
            "cut one broker off the network (both ways) for a bounded time, then heal",
            ("g1",),
            (Fault("partition", "broker"),),
        ),
        Scenario(
            "multiple-consumer-groups",
            "three groups read the same topic; one is killed -9 mid-way and resumes",
            ("g1", "g2", "g3"),
            (Fault("kill", "consumer:g2"),),
        ),
    )
}


def topic_layout(shape: str) -> tuple[int, dict[str, str]]:
    """The replication factor and topic config of a scenario's topic on ``shape``:
    RF 3 and min.insync.replicas 2 on the 3-broker cluster, RF 1 on the single broker."""
    rf = 3 if shape == "3-broker" else 1
    return rf, ({"min.insync.replicas": "2"} if rf == 3 else {})
