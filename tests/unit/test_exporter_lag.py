"""Consumer-group lag: a fake AdminClient at the boundary, series named as kafka_exporter's."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import ConsumerGroupListing
from prometheus_client import CollectorRegistry, generate_latest

from exporter.errors import SourceUnavailable
from exporter.lag import ConsumerLagCollector, ConsumerLagSource, PartitionLag
from exporter.sampler import Sampler


def _done(value: Any) -> Future[Any]:
    f: Future[Any] = Future()
    f.set_result(value)
    return f


class FakeAdmin:
    """Groups (id -> state), committed offsets (group -> {(topic, p): offset}), end offsets."""

    def __init__(self) -> None:
        self.states: dict[str, ConsumerGroupState] = {}
        self.committed: dict[str, dict[tuple[str, int], int]] = {}
        self.ends: dict[tuple[str, int], int] = {}
        self.hang = False

    def list_consumer_groups(self, **_: Any) -> Future[Any]:
        if self.hang:
            return Future()  # never answered
        valid = [ConsumerGroupListing(g, False, s) for g, s in self.states.items()]
        return _done(SimpleNamespace(valid=valid, errors=[]))

    def list_consumer_group_offsets(
        self, request: list[ConsumerGroupTopicPartitions], **_: Any
    ) -> dict[str, Future[Any]]:
        group = request[0].group_id
        tps = [TopicPartition(t, p, o) for (t, p), o in self.committed.get(group, {}).items()]
        return {group: _done(ConsumerGroupTopicPartitions(group, tps))}

    def list_offsets(self, wanted: dict[TopicPartition, Any], **_: Any) -> dict[Any, Future[Any]]:
        out: dict[Any, Future[Any]] = {}
        for tp in wanted:
            key = (tp.topic, tp.partition)
            out[tp] = Future()
            if key in self.ends:
                out[tp].set_result(SimpleNamespace(offset=self.ends[key]))
            else:  # a topic deleted since the group committed on it
                out[tp].set_exception(KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)))
        return out


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _source(admin: FakeAdmin, clock: Clock, **kw: Any) -> ConsumerLagSource:
    return ConsumerLagSource({}, timeout=0.2, admin=admin, clock=clock, **kw)


def test_lag_is_end_minus_committed_for_groups_with_members() -> None:
    admin, clock = FakeAdmin(), Clock()
    admin.states = {"run-a": ConsumerGroupState.STABLE, "old-run": ConsumerGroupState.EMPTY}
    admin.committed = {
        "run-a": {("t", 0): 90, ("t", 1): -1001},  # partition 1: nothing committed
        "old-run": {("t", 0): 3},
    }
    admin.ends = {("t", 0): 100, ("t", 1): 50}
    assert _source(admin, clock).sample() == [PartitionLag("run-a", "t", 0, 90, 100)]


def test_a_stopped_group_stays_reported_for_linger_seconds() -> None:
    admin, clock = FakeAdmin(), Clock()
    admin.states = {"g": ConsumerGroupState.STABLE}
    admin.committed = {"g": {("t", 0): 10}}
    admin.ends = {("t", 0): 10}
    source = _source(admin, clock, linger=60)
    assert [p.lag for p in source.sample()] == [0]
    admin.states["g"] = ConsumerGroupState.EMPTY  # its consumer stopped
    admin.ends[("t", 0)] = 25  # producers go on
    clock.now += 59
    assert [p.lag for p in source.sample()] == [15]
    clock.now += 2
    assert source.sample() == []


def test_a_deleted_topic_does_not_cost_the_other_groups_their_lag() -> None:
    admin, clock = FakeAdmin(), Clock()
    admin.states = {"run-a": ConsumerGroupState.STABLE, "scenario": ConsumerGroupState.STABLE}
    admin.committed = {"run-a": {("t", 0): 90}, "scenario": {("gone", 0): 40}}
    admin.ends = {("t", 0): 100}  # "gone" was deleted after its group committed
    assert _source(admin, clock).sample() == [PartitionLag("run-a", "t", 0, 90, 100)]


def test_a_partition_kafka_cannot_answer_for_is_left_out_until_none_answers() -> None:
    admin, clock = FakeAdmin(), Clock()
    admin.states = {"a": ConsumerGroupState.STABLE, "b": ConsumerGroupState.STABLE}
    admin.committed = {"a": {("t", 0): 1}, "b": {("u", 0): 2}}
    admin.ends = {("t", 0): 5}  # ("u", 0): its leader moving in a fault
    source = _source(admin, clock)
    assert source.sample() == [PartitionLag("a", "t", 0, 1, 5)]
    admin.ends = {}
    with pytest.raises(SourceUnavailable, match="Kafka did not answer the partitions' ends"):
        source.sample()


def test_at_most_max_groups_the_most_recently_active() -> None:
    admin, clock = FakeAdmin(), Clock()
    admin.ends = {("t", 0): 5}
    source = _source(admin, clock, max_groups=2)
    for name in ("a", "b", "c"):
        admin.states = {**{g: ConsumerGroupState.EMPTY for g in admin.states}}
        admin.states[name] = ConsumerGroupState.STABLE
        admin.committed[name] = {("t", 0): 1}
        source.sample()
        clock.now += 1
    assert sorted({p.group for p in source.sample()}) == ["b", "c"]


def test_kafka_not_answering_ends_the_round_within_its_timeout() -> None:
    admin = FakeAdmin()
    admin.hang = True
    with pytest.raises(SourceUnavailable, match="Kafka did not answer the consumer group list"):
        ConsumerLagSource({}, timeout=0.2, admin=admin).sample()


def test_collector_serves_kafka_exporter_names() -> None:
    admin, clock = FakeAdmin(), Clock()
    admin.states = {"g": ConsumerGroupState.STABLE}
    admin.committed = {"g": {("t", 0): 7, ("t", 1): 4}}
    admin.ends = {("t", 0): 10, ("t", 1): 4}
    sampler = Sampler(_source(admin, clock))
    sampler.sample_once()
    registry = CollectorRegistry()
    registry.register(ConsumerLagCollector(sampler))
    text = generate_latest(registry).decode()
    assert 'kafka_consumergroup_lag{consumergroup="g",partition="0",topic="t"} 3.0' in text
    assert 'kafka_consumergroup_lag{consumergroup="g",partition="1",topic="t"} 0.0' in text
    assert (
        'kafka_consumergroup_current_offset{consumergroup="g",partition="0",topic="t"} 7.0' in text
    )
    assert 'kafka_topic_partition_current_offset{partition="0",topic="t"} 10.0' in text
    assert 'kafka_consumergroup_lag_sum{consumergroup="g",topic="t"} 3.0' in text
    assert "kafkaval_lag_exporter_up 1.0" in text
    assert "kafkaval_lag_exporter_groups 1.0" in text


def test_collector_without_kafka_says_so_and_invents_nothing() -> None:
    admin = FakeAdmin()
    admin.hang = True
    sampler = Sampler(ConsumerLagSource({}, timeout=0.1, admin=admin))
    sampler.sample_once()
    registry = CollectorRegistry()
    registry.register(ConsumerLagCollector(sampler))
    text = generate_latest(registry).decode()
    assert "kafkaval_lag_exporter_up 0.0" in text
    assert "kafka_consumergroup_lag{" not in text
