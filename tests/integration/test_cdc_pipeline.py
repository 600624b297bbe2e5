"""Connector registration, an insert -> envelope round trip, and bad-input handling."""

from __future__ import annotations

import dataclasses

import pytest
from cdc_fixtures import assert_insert_round_trip, cdc_config  # noqa: F401 (fixture)

from cdc import connect, pipeline, postgres
from cdc.config import CdcConfig
from cdc.errors import CdcError
from kafkaval.config import Settings
from kafkaval.waiting import wait_until

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
    assert_insert_round_trip(stack_settings, cdc_config)


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
