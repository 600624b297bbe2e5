"""Binding targets to the cluster under test, fault effects and traffic (fakes at the boundary)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupState, KafkaException
from test_chaos_faults import FakeTarget

from chaos.binding import (
    BrokerIdentity,
    ClusterIdentity,
    bind,
    parse_meta_properties,
    read_meta_properties,
)
from chaos.errors import ChaosError, TargetNotAllowed
from chaos.evidence import (
    NO_EFFECT,
    BrokerEffect,
    GroupRebalance,
    fault_failures,
)
from chaos.suite import _tested_cluster
from chaos.traffic import TrafficMeter, count_lines

META = "#\n#Wed Dec 02 18:00:00 UTC 2026\nnode.id=2\ndirectory.id=abc\nversion=1\ncluster.id=CID\n"
CLUSTER = ClusterIdentity("127.0.0.1:9092", "CID", frozenset({1, 2, 3}))


class Broker(FakeTarget):
    def __init__(self, identity: BrokerIdentity | Exception | None) -> None:
        super().__init__("broker-2")
        self.identity = identity

    def broker_identity(self) -> BrokerIdentity | None:
        if isinstance(self.identity, Exception):
            raise self.identity
        return self.identity


def test_meta_properties_give_the_broker_identity(tmp_path: Path) -> None:
    (tmp_path / "meta.properties").write_text(META)
    own = read_meta_properties(tmp_path)
    assert (own.cluster_id, own.node_id) == ("CID", 2)
    assert own.source.endswith("meta.properties")
    with pytest.raises(ChaosError, match="cannot read"):
        read_meta_properties(tmp_path / "nope")
    with pytest.raises(ChaosError, match="no cluster.id"):
        parse_meta_properties("version=1\n", "x")


def test_a_broker_of_the_cluster_under_test_is_bound() -> None:
    own = BrokerIdentity("CID", 2, "m")
    assert bind(Broker(own), CLUSTER) == own
    assert bind(Broker(own), CLUSTER, node_id=2) == own


@pytest.mark.parametrize(
    ("identity", "node", "message"),
    [
        (BrokerIdentity("OTHER", 2, "/s/meta.properties"), None, "belongs to cluster OTHER"),
        (BrokerIdentity("CID", 7, "m"), None, "does not list"),
        (BrokerIdentity("CID", 2, "m"), 3, "not broker 3"),
        (None, None, "not a Kafka broker"),
        (ChaosError("no meta.properties"), None, "cannot tell which cluster"),
    ],
)
def test_a_target_outside_the_cluster_under_test_is_refused(
    identity: Any, node: int | None, message: str
) -> None:
    target = Broker(identity)
    with pytest.raises(TargetNotAllowed, match=message) as e:
        bind(target, CLUSTER, node_id=node)
    assert e.value.exit_code == 2 and "\n" not in str(e.value)
    assert target.calls == []  # refused before any fault


def _md(brokers: set[int], parts: dict[int, tuple[int, list[int]]], topic: str = "t") -> Any:
    return SimpleNamespace(
        brokers={b: SimpleNamespace(host="127.0.0.1", port=9090 + b) for b in brokers},
        topics={
            topic: SimpleNamespace(
                partitions={
                    p: SimpleNamespace(leader=lead, isrs=isr) for p, (lead, isr) in parts.items()
                }
            )
        },
    )


class FakeAdmin:
    """Answers list_topics / describe_consumer_groups from a script of answers."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, config: dict[str, Any]) -> FakeAdmin:
        self.asked.append(config.get("bootstrap.servers", ""))
        return self

    def _next(self) -> Any:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def list_topics(self, topic: str, timeout: float) -> Any:
        return self._next()

    def describe_consumer_groups(self, groups: list[str], request_timeout: float) -> Any:
        f: Future[Any] = Future()
        try:
            f.set_result(self._next())
        except KafkaException as e:
            f.set_exception(e)
        return {groups[0]: f}


STEADY = _md({1, 2, 3}, {0: (2, [1, 2, 3]), 1: (1, [1, 2, 3])})


@pytest.mark.parametrize(
    ("after", "seen"),
    [
        (_md({1, 3}, {0: (2, [1, 2, 3]), 1: (1, [1, 2, 3])}), "broker 2 left the cluster"),
        (_md({1, 2, 3}, {0: (3, [1, 3]), 1: (1, [1, 2, 3])}), "partition 0 moved from broker 2"),
        (_md({1, 2, 3}, {0: (2, [2]), 1: (1, [1, 3])}), "left the ISR of partition 1"),
    ],
)
def test_a_broker_fault_is_seen_in_the_cluster_metadata(after: Any, seen: str) -> None:
    admin = FakeAdmin([STEADY, STEADY, after])
    probe = BrokerEffect({"bootstrap.servers": "b"}, "t", 2, connect=admin, interval=0.01)
    probe.start()
    effect = probe.finish(5)
    assert effect is not None and seen in effect["what"]
    # The baseline from the bootstrap servers, then only the brokers not faulted.
    assert admin.asked[0] == "b" and set(admin.asked[1:]) == {"127.0.0.1:9091,127.0.0.1:9093"}
    assert effect["how"].startswith("metadata of the cluster under test") and effect["when"]


def test_a_broker_fault_the_cluster_never_shows_has_no_effect() -> None:
    # Metadata errors on a 3-broker cluster are not evidence: another broker would answer.
    answers = [STEADY, KafkaException("timed out"), STEADY]
    probe = BrokerEffect({}, "t", 2, connect=FakeAdmin(answers), interval=0.01)
    probe.start()
    assert probe.finish(0.2) is None


def test_silence_of_the_only_broker_is_its_effect() -> None:
    single = _md({1}, {0: (1, [1])})
    probe = BrokerEffect(
        {}, "t", 1, connect=FakeAdmin([single, KafkaException("down")]), interval=0.01
    )
    probe.start()
    effect = probe.finish(5)
    assert effect is not None and "only broker 1 stopped answering" in effect["what"]


def test_a_broker_missing_before_the_fault_is_no_baseline() -> None:
    probe = BrokerEffect({}, "t", 5, connect=FakeAdmin([STEADY]), interval=0.01)
    with pytest.raises(ChaosError, match="not in the cluster's metadata before"):
        probe.start()


def _group(state: Any, *members: str) -> Any:
    return SimpleNamespace(state=state, members=[SimpleNamespace(member_id=m) for m in members])


def test_a_consumer_fault_is_seen_as_a_rebalance() -> None:
    stable = _group(ConsumerGroupState.STABLE, "m1")
    answers = [stable, stable, _group(ConsumerGroupState.STABLE, "m2")]
    probe = GroupRebalance({}, "g", admin=FakeAdmin(answers), interval=0.01)
    probe.start()
    effect = probe.finish(5)
    assert effect is not None and "1 member(s) left, 1 joined" in effect["what"]


def test_a_group_that_never_rebalances_shows_no_effect() -> None:
    probe = GroupRebalance(
        {}, "g", admin=FakeAdmin([_group(ConsumerGroupState.STABLE, "m1")]), interval=0.01
    )
    probe.start()
    assert probe.finish(0.1) is None


def test_a_group_not_stable_before_the_fault_is_no_baseline() -> None:
    admin = FakeAdmin([_group(ConsumerGroupState.PREPARING_REBALANCING, "m1")])
    probe = GroupRebalance({}, "g", settle=0.2, admin=admin, interval=0.01)
    with pytest.raises(ChaosError, match="not Stable"):
        probe.start()


def _fault(effect: Any = None, sent: int = 5, consumed: dict[str, int] | None = None) -> dict:
    since = {"sent": 0, "acked": 0, "consumed": {g: 0 for g in (consumed or {"g1": 1})}}
    start = {"sent": 2, "acked": 2, "consumed": consumed or {"g1": 1}}
    end = {**start, "sent": 2 + sent}
    return {
        "kind": "kill",
        "target": "broker-2",
        "observed_effect": effect,
        "traffic": TrafficMeter.window(since, start, end, end),
    }


def test_a_fault_counts_only_with_an_effect_and_traffic() -> None:
    seen = {"what": "x", "when": "t", "how": "h"}
    assert fault_failures([_fault(seen)]) == []
    assert fault_failures([_fault(None)]) == [f"fault kill on broker-2: {NO_EFFECT}"]
    assert fault_failures([_fault(seen, sent=0)]) == [
        "fault kill on broker-2: the producer sent nothing while it was on"
    ]
    assert fault_failures([_fault(seen, consumed={"g1": 3, "g2": 0})]) == [
        "fault kill on broker-2: group g2 consumed nothing before it (not live)"
    ]
    assert fault_failures([{**_fault(seen), "traffic": None}]) == [
        "fault kill on broker-2: its traffic was not measured"
    ]


def test_traffic_windows_before_during_and_after_a_fault() -> None:
    since = {"sent": 10, "acked": 10, "consumed": {"g1": 4, "g2": 4}}
    start = {"sent": 20, "acked": 18, "consumed": {"g1": 9, "g2": 6}}
    undone = {"sent": 30, "acked": 18, "consumed": {"g1": 9, "g2": 6}}
    gap_end = {"sent": 40, "acked": 39, "consumed": {"g1": 20, "g2": 30}}
    assert TrafficMeter.window(since, start, undone, gap_end) == {
        "consumed_before_fault": {"g1": 5, "g2": 2},
        "sent_during_fault": 10,
        "acked_during_fault": 0,
        "acked_through_gap": 21,
        "consumed_through_gap": {"g1": 11, "g2": 24},
    }


def test_waiting_for_live_consumers_is_bounded() -> None:
    counts = {"g1": 0, "g2": 0}
    meter = TrafficMeter(lambda: 0, lambda: 0, {g: (lambda g=g: counts[g]) for g in counts})
    since = meter.zero()
    assert not meter.wait_consuming(since, 0.2)
    assert not meter.wait_consuming(since, 60, stopped=lambda: True)  # a stop ends the wait
    counts.update(g1=3, g2=1)
    assert meter.wait_consuming(since, 5)


def test_traffic_meter_counts_deliveries_lines(tmp_path: Path) -> None:
    path = tmp_path / "g1.deliveries"
    assert count_lines(path) == 0
    path.write_text("0 1 k\n0 2 k\n")
    meter = TrafficMeter(lambda: 3, lambda: 2, {"g1": lambda: count_lines(path)})
    assert meter.snapshot() == {"sent": 3, "acked": 2, "consumed": {"g1": 2}}


def test_the_record_names_the_cluster_it_tested() -> None:
    one = {"bootstrap_servers": "127.0.0.1:9092", "cluster_id": "A"}
    assert _tested_cluster({}) == {"bootstrap_servers": None, "cluster_id": None}
    assert _tested_cluster({"single": one}) == one
    both = _tested_cluster({"3-broker": {**one, "cluster_id": "B"}, "single": one})
    assert both["cluster_id"] == "3-broker: B; single: A"


def test_identity_is_a_plain_record() -> None:
    assert dataclasses.asdict(BrokerIdentity("C", 1, "s")) == {
        "cluster_id": "C",
        "node_id": 1,
        "source": "s",
    }


def test_a_killed_connect_worker_is_seen_to_stop_answering() -> None:
    from chaos.evidence import ConnectEffect

    answers = [True, True, False]
    probe = ConnectEffect(
        "connect", lambda: answers.pop(0) if len(answers) > 1 else answers[0],
        lambda: ["RUNNING"], interval=0.01,
    )  # fmt: skip
    probe.start()
    effect = probe.finish(5)
    assert effect is not None and "connect stopped answering its REST API" in effect["what"]


def test_a_task_leaving_running_is_an_effect_and_a_connector_not_running_no_baseline() -> None:
    from chaos.evidence import ConnectEffect

    states = [["RUNNING"], ["RUNNING"], ["UNASSIGNED"]]
    probe = ConnectEffect(
        "w", lambda: True, lambda: states.pop(0) if len(states) > 1 else states[0], interval=0.01
    )
    probe.start()
    effect = probe.finish(5)
    assert effect is not None and "task 0 UNASSIGNED" in effect["what"]
    steady = ConnectEffect("w", lambda: True, lambda: ["RUNNING"], interval=0.01)
    steady.start()
    assert steady.finish(0.1) is None
    with pytest.raises(ChaosError, match="was not RUNNING before the fault"):
        ConnectEffect("w", lambda: True, lambda: ["FAILED"]).start()
