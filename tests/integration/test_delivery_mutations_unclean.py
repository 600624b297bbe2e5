"""A live mutation: acked messages lost by an unclean leader election are reported as lost.

On the real 3-broker cluster, a topic with ``unclean.leader.election.enable``
(RF 3, ``min.insync.replicas`` 1) gets one batch while all replicas are in
sync, one while its ISR has shrunk to the leader alone (the followers shut
down: acks=all is satisfied by the leader), and, after the leader is killed
and the out-of-date followers come back and one of them is elected
uncleanly, one more. The delivery checker (chaos.checker over the final read
of chaos.final_read and the producers' ledgers) must report exactly the batch
acked by the leader alone as lost, and nothing else.

The followers are stopped one after the other, so the controller quorum (each
broker is a controller too) still commits the ISR shrink of the second one;
the leader then serves alone without a quorum, as a broker does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaException

from chaos.checker import LOG_ANOMALIES, CheckResult, check, samples
from chaos.final_read import read_log
from chaos.ledger import ACKED, ProducerLedger
from chaos.safety import local_targets
from chaos.scenarios import Unsafe, producer_config
from chaos.targets import Target
from chaos.verifiable_producer import VerifiableProducer
from kafkaval import kafka_admin
from kafkaval.config import Settings
from kafkaval.waiting import wait_until
from stack import local, probes

pytestmark = pytest.mark.integration

BATCH = 200  # messages of each phase
BROKERS = ("broker-1", "broker-2", "broker-3")


def _replicas(settings: Settings, topic: str) -> tuple[int, list[int], list[int]]:
    """(leader, replicas, in-sync replicas) of the topic's one partition, as the
    brokers that answer see it; (-1, [], []) when no broker answers."""
    try:
        md = kafka_admin.admin_client(settings.client_config()).list_topics(topic, timeout=5)
    except KafkaException:
        return -1, [], []
    t = md.topics.get(topic)
    if t is None or t.error is not None or 0 not in t.partitions:
        return -1, [], []
    p = t.partitions[0]
    return int(p.leader), list(p.replicas), sorted(p.isrs)


def _produce(settings: Settings, topic: str, name: str, unsafe: Unsafe) -> ProducerLedger:
    """``BATCH`` messages from a verifiable producer of its own, flushed; its ledger."""
    producer = VerifiableProducer(
        f"{name}-{uuid.uuid4().hex[:6]}", topic, producer_config(settings, "3-broker", unsafe)
    )
    return producer.run(rate=400.0, max_messages=BATCH, max_seconds=30.0, flush_timeout=60.0)


@pytest.fixture
def unclean_topic(cluster_settings: Settings) -> Iterator[str]:
    topic = f"it-unclean-{uuid.uuid4().hex[:8]}"
    config = {"unclean.leader.election.enable": "true", "min.insync.replicas": "1"}
    kafka_admin.create_topics(cluster_settings, [topic], 1, 3, config, timeout=30.0)
    try:
        yield topic
    finally:
        kafka_admin.delete_topics(cluster_settings, [topic])


def test_unclean_leader_election_loses_acked_messages_reported_as_lost(
    cluster_settings: Settings, unclean_topic: str
) -> None:
    settings, topic = cluster_settings, unclean_topic
    leader, replicas, isr = _replicas(settings, topic)
    assert leader in replicas and len(replicas) == 3 and isr == sorted(replicas)
    followers = [r for r in replicas if r != leader]
    targets: dict[str, Target] = local_targets(settings)
    try:
        before = _produce(settings, topic, "in-sync", Unsafe())
        assert before.count(ACKED) == BATCH
        # Controlled shutdowns, one at a time: each is taken out of the ISR
        # while two controllers still form a quorum.
        for follower in followers:
            targets[f"broker-{follower}"].stop(timeout=60.0)
        assert wait_until(lambda: _replicas(settings, topic)[2] == [leader], 30.0), (
            f"the ISR did not shrink to the leader {leader}: {_replicas(settings, topic)}"
        )
        # acks=all with the ISR at the leader alone: the leader's append is the ack.
        # Not idempotent: a producer id would have to come from the controller quorum.
        unsafe = Unsafe(producer={"enable.idempotence": "false"})
        alone = _produce(settings, topic, "leader-alone", unsafe)
        assert alone.count(ACKED) == BATCH
        targets[f"broker-{leader}"].kill()
        for follower in followers:  # both: the controller quorum needs two
            targets[f"broker-{follower}"].start()
        assert wait_until(lambda: _replicas(settings, topic)[0] in followers, 120.0), (
            f"no follower was elected uncleanly within 120 s: {_replicas(settings, topic)}"
        )
        after = _produce(settings, topic, "after-election", Unsafe())
        assert after.count(ACKED) == BATCH
    finally:
        local.up(settings)  # starts whichever broker is down and waits until all serve
    running = {name for name, state, _pid, _log in local.status(settings) if state == "running"}
    assert running >= set(BROKERS)
    assert probes.broker_serving(settings.client_config(), 3)

    # The new leader never had the second batch: the third was acked at its offsets.
    assert list(after.offset) == list(alone.offset) == list(range(BATCH, 2 * BATCH))
    log = read_log(settings.client_config(), topic)
    result = check({ledger.producer_id: ledger for ledger in (before, alone, after)}, log)
    _assert_only_the_leader_alone_batch_is_lost(result, alone.producer_id)


def _assert_only_the_leader_alone_batch_is_lost(result: CheckResult, alone: str) -> None:
    outcomes = (result.sent, result.acked, result.failed, result.indeterminate)
    assert outcomes == (3 * BATCH, 3 * BATCH, 0, 0)
    assert result.in_log == 2 * BATCH
    # Exactly the batch acked by the leader alone, named as lost, and no other class.
    anomalies = {name: getattr(result, name) for name in LOG_ANOMALIES}
    assert anomalies == {**dict.fromkeys(LOG_ANOMALIES, 0), "lost": BATCH}, anomalies
    assert result.lost_ids and all(i.startswith(f"{alone}:") for i in result.lost_ids)
    assert samples(result, "lost")
    assert result.log_start_offsets == {}
