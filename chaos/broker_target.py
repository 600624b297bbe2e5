"""The broker a scenario's broker faults act on, bound to the cluster under test.

The one named (``--target``), else the leader of partition 0 of the
scenario's topic: a local stack broker or (compose) an allowed container.
Either way only a target chaos.safety allows and chaos.binding binds to the
cluster the bootstrap servers answer for.
"""

from __future__ import annotations

from collections.abc import Callable

from chaos.binding import BrokerIdentity, ClusterIdentity, bind
from chaos.errors import ChaosError, TargetNotAllowed
from chaos.safety import require_running, resolve_target
from chaos.targets import Target
from kafkaval import kafka_admin
from kafkaval.config import Settings
from kafkaval.waiting import wait_until


def broker_to_fault(
    settings: Settings,
    target_name: str | None,
    topic: str,
    local: dict[str, Target],
    cluster: ClusterIdentity,
    label: str,
) -> tuple[Target, BrokerIdentity]:
    """The broker to fault and its identity, bound to the cluster under test.

    ``target_name`` (``--target``) names it; otherwise it is the leader of
    partition 0 of ``topic``: the local stack's broker of that node id, else
    (compose) the allowed container of it, whichever belongs to the cluster
    under test.

    Raises:
        TargetNotAllowed: not allowed, or not a broker of the cluster under test.
        ChaosError: allowed but not found, not running, or partition 0 has no leader
            (the message starts with ``[label]``).
    """
    if target_name:
        target = resolve_target(
            settings, target_name, local, container=lambda n: _container(settings, n)
        )
        require_running(target)
        return target, bind(target, cluster)
    leaders: list[int] = []

    def led() -> bool:
        leader = kafka_admin.partition_leader(settings, topic)
        if leader is not None and leader >= 0:
            leaders.append(leader)
        return bool(leaders)

    if not wait_until(led, 30.0, 0.5):
        raise ChaosError(f"[{label}] partition 0 of {topic} has no leader for 30 s: no fault")
    leader = leaders[-1]
    candidates: list[Callable[[], Target]] = []
    if f"broker-{leader}" in local:
        candidates.append(lambda: local[f"broker-{leader}"])
    if settings.chaos_targets:
        # Kafka in containers (compose): the allowed container of that node id.
        from chaos.docker_backend import broker_container

        candidates.append(lambda: broker_container(settings, leader))
    if not candidates:
        resolve_target(settings, f"broker-{leader}", local)  # raises: not allowed
    refusal: TargetNotAllowed | None = None
    for candidate in candidates:
        target = candidate()
        require_running(target)
        try:
            return target, bind(target, cluster, node_id=leader)
        except TargetNotAllowed as e:
            refusal = refusal or e
    assert refusal is not None
    raise refusal


def _container(settings: Settings, name: str) -> Target:
    from chaos.docker_backend import docker_target  # the engine only where it is used

    return docker_target(settings, name)
