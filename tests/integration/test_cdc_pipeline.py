"""Connector registration, an insert -> envelope round trip, and bad-input handling."""

from __future__ import annotations

import dataclasses
import time

import pytest
from cdc_fixtures import cdc_config  # noqa: F401 (fixture)

from cdc import connect, pipeline, postgres
from cdc.config import CdcConfig
from cdc.errors import CdcError
from cdc.events import end_offsets, read_events
from kafkaval.config import Settings
from stack.probes import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cdc]


def test_connector_registered_and_running(cdc_config: CdcConfig) -> None:  # noqa: F811
    client = connect.ConnectClient(cdc_config.rest_url)
    assert cdc_config.connector_name in client.connectors()
    status = client.status(cdc_config.connector_name)
    assert status["connector"]["state"] == "RUNNING"
    assert [t["state"] for t in status["tasks"]] == ["RUNNING"]
    # The task streams from the slot once its snapshot step is done.
    assert wait_until(lambda: postgres.slot_state(cdc_config) == (True, True), 30.0, 0.5)


def test_insert_round_trip_envelope(stack_settings: Settings, cdc_config: CdcConfig) -> None:  # noqa: F811
    topic = cdc_config.topic("videos")
    pipeline_topics = [topic]
    before = end_offsets(stack_settings, pipeline_topics)
    title = f"round trip {time.time_ns()}"
    with postgres.connect(cdc_config) as conn:
        row = conn.execute(
            "INSERT INTO videos (owner_id, title, duration_seconds) VALUES (7, %s, 42) "
            "RETURNING id, pg_current_xact_id()::text::bigint",
            (title,),
        ).fetchone()
    assert row is not None
    pk, txid = row
    events, _tomb, finished = read_events(
        stack_settings,
        pipeline_topics,
        60.0,
        start=before,
        done=lambda evs: any(e.pk == pk and e.op == "c" for e in evs),
    )
    assert finished, "the insert never reached its topic within 60 s"
    (ev,) = [e for e in events if e.pk == pk and e.op == "c"]
    assert ev.table == "videos" and ev.version == 1
    assert ev.txid is not None and ev.txid % 2**32 == txid % 2**32
    assert ev.ts_ms >= ev.source_ts_ms > 0
    # The raw envelope: before/after/source/op/ts_ms, no unwrap transform.
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**stack_settings.client_config(), "group.id": "t-envelope"})
    try:
        consumer.assign([TopicPartition(topic, ev.partition, ev.offset)])
        msg = consumer.poll(10)
    finally:
        consumer.close()
    import json

    env = json.loads(msg.value())
    assert set(env) >= {"before", "after", "source", "op", "ts_ms"}
    assert env["before"] is None and env["op"] == "c"
    assert env["after"]["title"] == title and env["after"]["duration_seconds"] == 42
    assert env["source"]["connector"] == "postgresql" and env["source"]["table"] == "videos"
    assert env["source"]["version"] == "3.6.1.Final"


def test_unreachable_connect_is_one_line(stack_settings: Settings, cdc_config: CdcConfig) -> None:  # noqa: F811
    bad = dataclasses.replace(cdc_config, connect_url="http://127.0.0.1:1")
    with pytest.raises(CdcError, match="Kafka Connect at http://127.0.0.1:1 is not reachable"):
        connect.ConnectClient(bad.rest_url).status(bad.connector_name)


def test_wrong_credentials_is_one_line(cdc_config: CdcConfig) -> None:  # noqa: F811
    bad = dataclasses.replace(cdc_config, pg_password="wrong")
    with pytest.raises(CdcError, match="wrong password") as err:
        postgres.ensure_database(bad)
    assert "\n" not in str(err.value)


def test_connector_failing_to_start_shows_the_trace(cdc_config: CdcConfig) -> None:  # noqa: F811
    # A second connector pointing at a database that does not exist: Connect's
    # validation or the task must fail, and nothing may stay registered.
    bad = dataclasses.replace(
        cdc_config, connector_name="kafkaval-broken", pg_database="nosuchdb", slot_name="broken"
    )
    with pytest.raises(CdcError, match="nosuchdb|FAILED|rejected"):
        pipeline.register_connector(bad, timeout=60)
    assert "kafkaval-broken" not in connect.ConnectClient(bad.rest_url).connectors()


def test_stale_replication_slot_is_dropped(cdc_config: CdcConfig) -> None:  # noqa: F811
    stale = dataclasses.replace(cdc_config, slot_name="kafkaval_stale_slot")
    with postgres.connect(stale) as conn:
        conn.execute(
            "SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (stale.slot_name,)
        )
    assert postgres.slot_state(stale) == (True, False)
    assert postgres.drop_slot(stale) is True
    assert postgres.slot_state(stale) == (False, False)
    # A slot in use is reported, never dropped under a running connector.
    assert wait_until(lambda: postgres.slot_state(cdc_config)[1], 30.0, 0.5)
    with pytest.raises(CdcError, match="in use by a running connector"):
        postgres.drop_slot(cdc_config)
