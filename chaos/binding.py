"""Binding fault targets to the cluster under test, by cluster id and broker id.

The cluster under test is whatever the configured bootstrap servers answer
for: its metadata names a cluster id and the brokers it has. A broker target
carries its own identity, read where the broker keeps it (the local broker's
``meta.properties`` in its data dir, the same file inside a container). A
fault may act on a broker target only when the two agree: same cluster id,
and the broker listed by that cluster (and, when the scenario wants a given
broker, that one). Otherwise the local stack's broker could be killed while
bootstrap points at another cluster, which is never touched, and the run
would pass on faults that never happened to it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from confluent_kafka import KafkaException

from chaos.errors import ChaosError, TargetNotAllowed
from chaos.targets import Target
from kafkaval.kafka_admin import admin_client


@dataclasses.dataclass(frozen=True)
class ClusterIdentity:
    """What the bootstrap servers say about the cluster they belong to."""

    bootstrap_servers: str
    cluster_id: str
    broker_ids: frozenset[int]


@dataclasses.dataclass(frozen=True)
class BrokerIdentity:
    """The cluster and node a broker target belongs to, and where that was read."""

    cluster_id: str
    node_id: int
    source: str  # e.g. the meta.properties path: named in refusals


def cluster_identity(client_config: dict[str, str], timeout: float = 10.0) -> ClusterIdentity:
    """The cluster id and broker ids the bootstrap servers report.

    Raises:
        ChaosError: no metadata answer, or one without a cluster id.
    """
    bootstrap = client_config.get("bootstrap.servers", "")
    try:
        md = admin_client(client_config).list_topics(timeout=timeout)
    except KafkaException as e:
        raise ChaosError(
            f"the cluster under test ({bootstrap}) did not answer a metadata request: {e}; "
            "check bootstrap_servers and that Kafka is up"
        ) from e
    if not md.cluster_id:
        raise ChaosError(f"the cluster under test ({bootstrap}) reported no cluster id")
    return ClusterIdentity(bootstrap, md.cluster_id, frozenset(md.brokers))


def parse_meta_properties(text: str, source: str) -> BrokerIdentity:
    """The identity in the text of a KRaft ``meta.properties``.

    Raises:
        ChaosError: ``cluster.id`` or ``node.id`` missing or not a number.
    """
    props = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            props[key.strip()] = value.strip()
    try:
        return BrokerIdentity(props["cluster.id"], int(props["node.id"]), source)
    except (KeyError, ValueError) as e:
        raise ChaosError(f"{source} names no cluster.id/node.id: is it a KRaft broker?") from e


def read_meta_properties(data_dir: Path) -> BrokerIdentity:
    """The identity of the local broker whose data dir is ``data_dir``.

    Raises:
        ChaosError: the file is missing or unreadable.
    """
    path = data_dir / "meta.properties"
    try:
        text = path.read_text()
    except OSError as e:
        raise ChaosError(f"cannot read {path} ({e.strerror}): is the broker formatted?") from e
    return parse_meta_properties(text, str(path))


def bind(target: Target, cluster: ClusterIdentity, node_id: int | None = None) -> BrokerIdentity:
    """Check that broker ``target`` belongs to ``cluster`` (and is broker ``node_id``).

    Returns:
        The target's identity (for the run record).

    Raises:
        TargetNotAllowed: the target is of another cluster, is not one of its
            brokers, is another broker than ``node_id``, or has no identity.
    """
    try:
        own = target.broker_identity()
    except ChaosError as e:
        raise TargetNotAllowed(
            f"cannot tell which cluster {target.name} belongs to ({e}); chaos faults only "
            f"brokers of the cluster under test ({cluster.bootstrap_servers})"
        ) from e
    if own is None:
        raise TargetNotAllowed(
            f"{target.name} is not a Kafka broker chaos can identify; a broker fault needs a "
            f"broker of the cluster under test ({cluster.bootstrap_servers})"
        )
    if own.cluster_id != cluster.cluster_id:
        raise TargetNotAllowed(
            f"target {target.name} belongs to cluster {own.cluster_id} ({own.source}) but the "
            f"bootstrap servers {cluster.bootstrap_servers} are cluster {cluster.cluster_id}: "
            "point bootstrap_servers at the target's cluster or choose a broker of the "
            "cluster under test"
        )
    if own.node_id not in cluster.broker_ids:
        raise TargetNotAllowed(
            f"target {target.name} is node {own.node_id} ({own.source}), which cluster "
            f"{cluster.cluster_id} does not list (brokers {sorted(cluster.broker_ids)}): "
            "is it running and registered?"
        )
    if node_id is not None and own.node_id != node_id:
        raise TargetNotAllowed(
            f"target {target.name} is node {own.node_id} ({own.source}), not broker {node_id} "
            "the scenario means to fault: check the target's data dir or KAFKA_NODE_ID"
        )
    return own
