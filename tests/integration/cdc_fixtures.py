"""Session fixture for the CDC tests: PostgreSQL + Connect + Debezium on the test stack,
and the insert -> envelope round trip both the local and the compose pipeline pass.

Ports: PostgreSQL 29432 + offset, Connect REST 29083 + offset (offset from
KAFKAVAL_TEST_PORT_OFFSET, as for the Kafka test ports). Kafka is the
``stack_settings`` single-broker stack. Torn down in ``finally`` unless
KAFKAVAL_REUSE_STACK=1.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cdc import metrics, pipeline, postgres
from cdc.config import CdcConfig, load_cdc_config
from cdc.events import end_offsets, read_events
from kafkaval.config import Settings

_OFF = int(os.environ.get("KAFKAVAL_TEST_PORT_OFFSET", "0"))
CDC_PORTS = {"pg_port": 29432 + _OFF, "connect_port": 29083 + _OFF}
REUSE = os.environ.get("KAFKAVAL_REUSE_STACK") == "1"


@pytest.fixture(scope="session")
def cdc_config(stack_settings: Settings, tmp_root: Path) -> Iterator[CdcConfig]:
    """The CDC pipeline up (connector RUNNING) on top of the test Kafka."""
    # PostgreSQL runs as the postgres user when we are root: it must be able to
    # enter the session's temporary folder (mkdtemp makes it 0700).
    tmp_root.chmod(0o711)
    cfg = load_cdc_config(environ={}, overrides=CDC_PORTS)
    try:
        pipeline.up(stack_settings, cfg)
        yield cfg
    finally:
        if not REUSE:
            pipeline.down(stack_settings, cfg)


def _query(settings: Settings, expr: str) -> list[dict]:
    r = requests.get(f"{settings.prometheus_url}/api/v1/query", params={"query": expr}, timeout=10)
    return r.json()["data"]["result"]


def prom_last(settings: Settings, selector: str) -> float:
    """The latest value of ``selector`` in the test Prometheus (last 10 minutes)."""
    found = _query(settings, f"last_over_time({selector}[10m])")
    assert len(found) == 1, f"{selector}: {[(x['metric'], x['value']) for x in found]}"
    return float(found[0]["value"][1])


def scrapes(settings: Settings) -> str:
    """How the CDC endpoint was scraped in the last 10 minutes (for messages)."""
    sel = f'up{{job="{metrics.JOB}",instance="{metrics.INSTANCE}"}}[10m]'
    total = _query(settings, f"count_over_time({sel})")
    good = _query(settings, f"sum_over_time({sel})")
    n = total[0]["value"][1] if total else "0"
    ok = good[0]["value"][1] if good else "0"
    return f"{n} scrapes of {metrics.JOB}/{metrics.INSTANCE} in 10 min, {ok} good"


def assert_insert_round_trip(settings: Settings, cfg: CdcConfig) -> None:
    """An INSERT into ``videos`` arrives in its topic as a Debezium envelope (no unwrap)."""
    topic = cfg.topic("videos")
    before = end_offsets(settings, [topic])
    title = f"round trip {time.time_ns()}"
    with postgres.connect(cfg) as conn:
        row = conn.execute(
            "INSERT INTO videos (owner_id, title, duration_seconds) VALUES (7, %s, 42) "
            "RETURNING id, pg_current_xact_id()::text::bigint",
            (title,),
        ).fetchone()
    assert row is not None
    pk, txid = row
    events, _tomb, finished = read_events(
        settings,
        [topic],
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

    consumer = Consumer({**settings.client_config(), "group.id": "t-envelope"})
    try:
        consumer.assign([TopicPartition(topic, ev.partition, ev.offset)])
        msg = consumer.poll(10)
    finally:
        consumer.close()
    assert msg is not None and msg.error() is None, msg
    env = json.loads(msg.value())
    assert set(env) >= {"before", "after", "source", "op", "ts_ms"}
    assert env["before"] is None and env["op"] == "c"
    assert env["after"]["title"] == title and env["after"]["duration_seconds"] == 42
    assert env["source"]["connector"] == "postgresql" and env["source"]["table"] == "videos"
    assert env["source"]["version"] == "3.6.1.Final"
