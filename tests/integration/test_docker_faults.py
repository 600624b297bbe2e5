"""Each Docker fault on a real Kafka container, rolled back and verified; refusals."""

from __future__ import annotations

import dataclasses
import secrets

import pytest
from docker_helpers import KAFKA_IMAGE, TEST_LABEL, engine_or_skip, require_image, wait_for

from chaos.docker_backend import docker_target
from chaos.errors import TargetNotAllowed
from chaos.faults import FAULT_KINDS, FaultRunner
from kafkaval.config import load_settings
from stack.probes import port_open

pytestmark = pytest.mark.docker
PORT = 29810  # published on 127.0.0.1 only


@pytest.fixture(scope="module")
def kafka_container(tmp_path_factory):
    client = engine_or_skip()
    require_image(client, KAFKA_IMAGE)
    run = secrets.token_hex(3)
    net = client.networks.create(f"kv-it-{run}", labels={TEST_LABEL: run})
    name = f"kv-it-{run}-kafka"
    container = None
    try:
        container = client.containers.run(
            KAFKA_IMAGE,
            name=name,
            hostname="kafka",
            labels={TEST_LABEL: run, "org.kafkaval.chaos": "allowed"},
            network=net.name,
            ports={"9094/tcp": ("127.0.0.1", PORT)},
            environment={
                "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093,EXTERNAL://:9094",
                "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://kafka:9092,EXTERNAL://127.0.0.1:{PORT}",
                "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
                    "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT"
                ),
                "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
                "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@kafka:9093",
                "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
                "KAFKA_HEAP_OPTS": "-Xmx384m -Xms384m",
            },
            detach=True,
        )
        wait_for(lambda: port_open(PORT), 120, "the Kafka container to listen")
        state = tmp_path_factory.mktemp("chaos-state")
        yield client, name, net.name, state
    finally:
        if container is not None:
            container.remove(force=True, v=True)
        net.remove()
        client.close()


def serving(name: str):
    from stack.probes import answers_metadata

    return lambda: answers_metadata({"bootstrap.servers": f"127.0.0.1:{PORT}"}, timeout=2)


def settings_for(state, targets):
    return dataclasses.replace(
        load_settings(environ={}), state_dir=str(state), chaos_targets=targets
    )


def test_unlisted_container_is_refused(kafka_container) -> None:
    client, name, _, state = kafka_container
    with pytest.raises(TargetNotAllowed):
        docker_target(settings_for(state, ["some-other-container"]), name, client)
    with pytest.raises(TargetNotAllowed):
        docker_target(settings_for(state, ["org.kafkaval.chaos=denied"]), name, client)


def test_each_fault_applied_and_rolled_back(kafka_container) -> None:
    client, name, net, state = kafka_container
    # allowed by label, the way the compose file marks its brokers
    target = docker_target(
        settings_for(state, ["org.kafkaval.chaos=allowed"]), name, client, health=serving(name)
    )
    assert target.wait_healthy(90), "broker not serving before the faults"
    # Through the FaultRunner: the bounded path scenarios use, with the undo verified.
    runner = FaultRunner(restore_timeout=120.0, graceful_timeout=20.0)
    seen: dict[str, bool] = {}

    def observe(kind: str) -> bool:
        info = client.api.inspect_container(name)
        if kind == "pause":
            return info["State"]["Paused"] and not target.is_healthy()
        if kind == "partition":
            return net not in info["NetworkSettings"]["Networks"] and target.is_partitioned()
        return not info["State"]["Running"]  # kill, restart: down while held

    for kind in FAULT_KINDS:
        with runner.active(kind, target, 30.0) as record:
            seen[kind] = observe(kind)
            runner.hold(2.0)
        assert record.rolled_back, f"{kind}: {record.problems}"
        assert seen[kind], f"{kind} had no visible effect on the container"
        info = client.api.inspect_container(name)
        assert info["State"]["Running"] and not info["State"]["Paused"]
        assert net in info["NetworkSettings"]["Networks"], f"{kind}: network not reconnected"
        assert serving(name)(), f"broker not serving after {kind}"
    assert runner.all_rolled_back()
    assert target.verify_restored() == []


def test_container_broker_is_bound_by_its_cluster_id(kafka_container) -> None:
    from chaos.binding import bind, cluster_identity

    client, name, _net, state = kafka_container
    target = docker_target(
        settings_for(state, ["org.kafkaval.chaos=allowed"]), name, client, health=serving(name)
    )
    assert target.wait_healthy(90, stable=0.0), "broker not serving"
    cluster = cluster_identity({"bootstrap.servers": f"127.0.0.1:{PORT}"})
    own = target.broker_identity()
    assert own.source.endswith("/meta.properties") and own.cluster_id == cluster.cluster_id
    assert bind(target, cluster, node_id=own.node_id) == own
    other = dataclasses.replace(cluster, cluster_id="AAAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(TargetNotAllowed, match=f"{name} belongs to cluster {own.cluster_id}"):
        bind(target, other)


def test_a_partition_left_by_a_crashed_run_is_healed_on_the_next_start(kafka_container) -> None:
    from chaos.docker_backend import DockerTarget, heal_leftover_partitions

    client, name, net, state = kafka_container
    settings = settings_for(state, ["org.kafkaval.chaos=allowed"])
    docker_target(settings, name, client).partition()  # the runner "dies" here: no heal
    assert net not in client.api.inspect_container(name)["NetworkSettings"]["Networks"]
    assert heal_leftover_partitions(settings, client) == [name]
    assert net in client.api.inspect_container(name)["NetworkSettings"]["Networks"]
    assert not DockerTarget(name, client, state).is_partitioned()
    assert heal_leftover_partitions(settings, client) == []  # nothing left to heal
