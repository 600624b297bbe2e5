"""The ``cdc-snapshot`` performance profile: Debezium's initial snapshot.

The tables are filled with N rows (895,000 in the full profile; QUICK far
fewer), the connector is registered afresh (offsets, slot and topics of an
earlier run removed first) with ``snapshot.mode=initial``, and we measure:
snapshot duration (registration to the envelope time of the event marked
``snapshot=last``), rows/s, and the time until every row was consumed. The
count must be exact: each row read exactly once, N in total.
"""

from __future__ import annotations

import time
from collections import Counter

from cdc import connect, pipeline, postgres
from cdc.config import TABLES, CdcConfig
from cdc.errors import CdcError
from cdc.events import ChangeEvent, read_events
from cdc.metrics import CdcMetrics, serving
from cdc.progress import progress_line
from cdc.schema import LOAD_SHARES, TRUNCATE_SQL
from kafkaval import kafka_admin
from kafkaval.config import Settings
from kafkaval.environment import run_environment
from kafkaval.errors import KafkavalError, UsageError
from kafkaval.record_types import CdcPerformanceRecord
from kafkaval.records import new_run_id, record_header, save_run_record, utc_now
from kafkaval.waiting import wait_until

FULL_ROWS = 895_000
QUICK_ROWS = 20_000

# Rows generated in the server: one statement per table, no client round trips.
LOAD_SQL = {
    "users": "INSERT INTO users (username, email, country) "
    "SELECT 'user' || g, 'user' || g || '@example.com', "
    "(ARRAY['US','DE','FR','IN'])[1 + g %% 4] FROM generate_series(1, %s) g",
    "videos": "INSERT INTO videos (owner_id, title, description, duration_seconds, view_count) "
    "SELECT 1 + g %% 10000, 'Video ' || g, repeat('a clip ', 8), 10 + g %% 3600, g %% 100000 "
    "FROM generate_series(1, %s) g",
    "comments": "INSERT INTO comments (video_id, user_id, body, likes) "
    "SELECT 1 + g %% 50000, 1 + g %% 10000, 'comment number ' || g, g %% 50 "
    "FROM generate_series(1, %s) g",
}


SCENARIO = "cdc-snapshot"


def rows_per_table(rows: int) -> dict[str, int]:
    """Split ``rows`` over the tables by LOAD_SHARES, exactly summing to ``rows``."""
    split = {t: int(rows * LOAD_SHARES[t]) for t in TABLES}
    split["comments"] += rows - sum(split.values())
    return split


def load_rows(cfg: CdcConfig, rows: int) -> dict[str, int]:
    """Empty the tables and fill them with ``rows`` rows; return the per-table counts."""
    split = rows_per_table(rows)
    with postgres.connect(cfg) as conn:
        conn.execute(TRUNCATE_SQL)
        for table, n in split.items():
            conn.execute(LOAD_SQL[table], (n,))
        conn.execute("ANALYZE users, videos, comments")
    return split


def delete_topics(settings: Settings, topics: list[str], timeout: float = 30.0) -> None:
    """Delete the table topics (if present) and wait until they are gone.

    Raises:
        CdcError: the deletion was refused, or the topics still exist after ``timeout`` s.
    """
    try:
        kafka_admin.delete_topics(settings, topics, timeout)
    except KafkavalError as e:
        raise CdcError(str(e)) from e
    admin = kafka_admin.admin_client(settings.client_config())
    left: list[str] = []

    def gone() -> bool:
        left[:] = [t for t in topics if t in admin.list_topics(timeout=10).topics]
        return not left

    if not wait_until(gone, timeout, 0.5):
        raise CdcError(f"topics {left} still exist {timeout:.0f} s after deletion")


def run_snapshot(
    settings: Settings,
    cfg: CdcConfig,
    rows: int,
    quick: bool,
    metrics: CdcMetrics | None = None,
    progress: bool | None = False,
) -> CdcPerformanceRecord:
    """Load ``rows`` rows, snapshot them through Debezium, measure, save the run record.

    The rows loaded and snapshot events read are served to Prometheus meanwhile
    and, unless ``progress`` is False, shown on a live line (None: by the terminal).

    Raises:
        UsageError: rows out of range.
        CdcError: PostgreSQL, Connect or Kafka unreachable, the connector failed.
    """
    if not 3 <= rows <= 10_000_000:
        raise UsageError(f"rows {rows} must be in [3, 10000000]")
    # Preflight before the endpoint: an unreachable address is one line.
    pipeline.require_kafka(settings)
    if not connect.ConnectClient(cfg.rest_url).reachable():
        raise CdcError(f"Kafka Connect at {cfg.rest_url} is not reachable: run `kafkaval cdc up`")
    metrics = metrics or CdcMetrics()
    with serving(settings, metrics):
        return _run(settings, cfg, rows, quick, metrics, progress)


def _run(
    settings: Settings,
    cfg: CdcConfig,
    rows: int,
    quick: bool,
    metrics: CdcMetrics,
    progress: bool | None,
) -> CdcPerformanceRecord:
    run_id = new_run_id()
    started_at = utc_now()
    pipeline.unregister_connector(cfg)
    delete_topics(settings, cfg.topics)
    t_load = time.monotonic()
    split = load_rows(cfg, rows)
    load_seconds = time.monotonic() - t_load
    metrics.inc(SCENARIO, "changes_committed", rows)  # the rows the snapshot must carry

    t_register_wall_ms = int(time.time() * 1000)
    t_register = time.monotonic()
    pipeline.register_connector(cfg, "initial")
    reads: Counter[tuple[str, int]] = Counter()
    per_table: Counter[str] = Counter()
    other_ops: Counter[str] = Counter()
    marks: dict[str, int] = {}
    all_consumed_at: list[float] = []

    def count(ev: ChangeEvent) -> None:
        metrics.inc(SCENARIO, "events_consumed")
        if ev.op != "r":
            other_ops[ev.op] += 1
            return
        reads[(ev.table, ev.pk)] += 1
        per_table[ev.table] += 1
        marks["first_ts_ms"] = min(marks.get("first_ts_ms", ev.ts_ms), ev.ts_ms)
        if ev.snapshot == "last":
            marks["last_ts_ms"] = ev.ts_ms
        if not all_consumed_at and len(reads) >= rows:
            all_consumed_at.append(time.monotonic())

    timeout = max(120.0, rows / 1000)
    with progress_line(metrics, SCENARIO, expected=rows, show=progress):
        _events, _tomb, finished = read_events(
            settings,
            cfg.topics,
            timeout,
            done=lambda _e: len(reads) >= rows and "last_ts_ms" in marks,
            on_event=count,
            keep=False,
        )
    total_reads = sum(reads.values())
    exact = (
        len(reads) == rows and total_reads == rows and all(per_table[t] == split[t] for t in TABLES)
    )
    snapshot_ms = marks.get("last_ts_ms", 0) - t_register_wall_ms if "last_ts_ms" in marks else None
    snapshot_s = snapshot_ms / 1000 if snapshot_ms is not None else None
    consumed_s = all_consumed_at[0] - t_register if all_consumed_at else None
    failures = []
    if not exact:
        failures.append(
            f"count not exact: {len(reads)} distinct rows, {total_reads} snapshot events, "
            f"expected {rows}"
        )
    if not finished or snapshot_s is None:
        failures.append(f"snapshot not fully consumed within {timeout:.0f} s")
    record: CdcPerformanceRecord = {
        **record_header(
            "cdc-performance", run_id, started_at, environment=run_environment(settings)
        ),
        "profile": SCENARIO,
        "quick": quick,
        "parameters": {
            "rows": rows,
            "rows_per_table": split,
            "snapshot_mode": "initial",
            "connector": cfg.connector_name,
            "topics": cfg.topics,
        },
        "results": {
            "rows_expected": rows,
            "rows_read": len(reads),
            "snapshot_events": total_reads,
            "duplicate_reads": total_reads - len(reads),
            "rows_read_per_table": {t: per_table[t] for t in TABLES},
            "other_events": dict(other_ops),
            "exact_count": exact,
            "load_seconds": round(load_seconds, 3),
            "snapshot_duration_seconds": round(snapshot_s, 3) if snapshot_s else None,
            "snapshot_rows_per_second": round(rows / snapshot_s, 1) if snapshot_s else None,
            "snapshot_read_seconds": (
                round((marks["last_ts_ms"] - marks["first_ts_ms"]) / 1000, 3)
                if "last_ts_ms" in marks
                else None
            ),
            "time_to_all_consumed_seconds": round(consumed_s, 3) if consumed_s else None,
            "failures": failures,
        },
        "passed": not failures,
    }
    save_run_record(settings.results_dir, record)
    return record
