"""``kafkaval cdc load``: changes at a target rate through the real pipeline, measured.

The CDC workload of the performance side: a fixed-schedule driver commits
inserts, updates and deletes (a configurable mix) into videos, users and
comments; a live consumer of the Debezium topics measures end-to-end latency
(the commit time in the event, ``source.ts_ms`` -> consumed) while the load
runs; afterwards every committed change is looked up in its topic (exact,
from the database ledger) and the connector's own lag (``ts_ms`` -
``source.ts_ms``) is summarized. No faults: a change must arrive exactly once.

Writes a run record of kind ``cdc-load`` (``results/latest-cdc-load.json``);
the run serves its counters and e2e histogram to Prometheus (job
kafkaval-cdc, label scenario="cdc-load") while it runs.
"""

from __future__ import annotations

import dataclasses
import time

from cdc import connect, pipeline, postgres
from cdc.change_checker import check_changes
from cdc.changes import ChangeDriver, ChangeMix, Ledger
from cdc.config import CdcConfig
from cdc.errors import CdcError
from cdc.events import end_offsets, read_events
from cdc.live import LiveReader, ensure_topics
from cdc.metrics import CdcMetrics, serving
from cdc.progress import progress_line
from kafkaval.config import Settings
from kafkaval.environment import run_environment
from kafkaval.errors import UsageError
from kafkaval.record_types import CdcLoadRecord
from kafkaval.records import new_run_id, record_header, save_run_record, utc_now
from loadgen.recorder import summarize_us

SCENARIO = "cdc-load"
PHASE = "load"
# The driver may fall this far behind its schedule before the run fails (default).
MIN_RATE_FRACTION = 0.99


@dataclasses.dataclass(frozen=True)
class LoadParams:
    rate: float = 100.0  # changes per second
    duration: float = 60.0  # seconds
    mix: ChangeMix = dataclasses.field(default_factory=ChangeMix)
    catch_up_timeout: float = 120.0
    min_rate_fraction: float = MIN_RATE_FRACTION  # of ``rate`` the driver must commit

    def validate(self) -> None:
        if not 0 < self.rate <= 2000:
            raise UsageError(f"rate {self.rate} must be in (0, 2000] changes/s")
        if not 1 <= self.duration <= 3600:
            raise UsageError(f"duration {self.duration} s must be in [1, 3600]")
        if not 0 < self.min_rate_fraction <= 1:
            raise UsageError(f"min-rate-fraction {self.min_rate_fraction:g} must be in (0, 1]")


def run_cdc_load(
    settings: Settings,
    cfg: CdcConfig,
    params: LoadParams,
    metrics: CdcMetrics | None = None,
    progress: bool | None = False,
) -> CdcLoadRecord:
    """Drive the load, check every change, save the record; returns it.

    Unless ``progress`` is False, a live line shows the load (None: by the terminal).

    Raises:
        UsageError: bad parameters.
        CdcError: PostgreSQL, Connect or Kafka unreachable, the connector not RUNNING,
            or the driver stopped on a database error.
    """
    params.validate()
    pipeline.require_kafka(settings)  # before the endpoint: a bad address is one line
    metrics = metrics or CdcMetrics()
    with serving(settings, metrics):
        return _run(settings, cfg, params, metrics, progress)


def _run(
    settings: Settings,
    cfg: CdcConfig,
    params: LoadParams,
    metrics: CdcMetrics,
    progress: bool | None,
) -> CdcLoadRecord:
    connect.wait_running(connect.ConnectClient(cfg.rest_url), cfg.connector_name, 30.0)
    ensure_topics(settings, cfg)
    run_id, started_at = new_run_id(), utc_now()
    start = end_offsets(settings, cfg.topics)
    ledger = Ledger(on_add=lambda _c: metrics.inc(SCENARIO, "changes_committed"))
    driver = ChangeDriver(cfg, ledger, params.mix)
    with postgres.connect(cfg) as conn:
        driver.load_live_ids(conn)
    live = LiveReader(settings, cfg.topics, start, params.duration + 180, metrics, SCENARIO)
    live.start()

    def e2e_so_far() -> str:
        p99 = live.latency()["p99"]  # None until a change was consumed
        return f"e2e p99 {p99 * 1000:,.0f} ms" if p99 is not None else ""

    try:
        t0 = time.monotonic()
        with progress_line(metrics, SCENARIO, extra=e2e_so_far, show=progress):
            committed = driver.run(
                params.rate, int(params.rate * params.duration) + 1, params.duration, PHASE
            )
        load_seconds = time.monotonic() - t0
    finally:
        driver.stop()
        live.stop()
    if driver.error:
        raise CdcError(f"change driver stopped: {driver.error}")
    keys = {c.key for c in ledger.changes()}
    t_read = time.monotonic()
    events, tombstones, caught_up = read_events(
        settings, cfg.topics, params.catch_up_timeout, start=start,
        done=lambda evs: keys <= {e.key for e in evs},
    )  # fmt: skip
    result = check_changes(ledger.changes(), events, {PHASE: 0})
    achieved = committed / load_seconds if load_seconds > 0 else 0.0
    failures = list(result.failures)
    if achieved < params.min_rate_fraction * params.rate:
        failures.append(
            f"committed {achieved:.1f} changes/s, "
            f"below {params.min_rate_fraction:.0%} of {params.rate:g}"
        )
    lag_us = [(e.ts_ms - e.source_ts_ms) * 1000 for e in events if e.op != "r"]
    record: CdcLoadRecord = {
        **record_header("cdc-load", run_id, started_at, environment=run_environment(settings)),
        "scenario": SCENARIO,
        "parameters": {
            "rate": params.rate,
            "duration": params.duration,
            "mix": params.mix.as_record(),
            "min_rate_fraction": params.min_rate_fraction,
            "connector": cfg.connector_name,
            "topics": cfg.topics,
        },
        "results": {
            **result.as_dict(),
            "failures": failures,
            "passed": not failures,
            "target_rate": params.rate,
            "achieved_rate": round(achieved, 2),
            "load_seconds": round(load_seconds, 3),
            "events_read": len(events),
            "tombstones": tombstones,
            "indeterminate": ledger.indeterminate,
            "caught_up": caught_up,
            "catch_up_seconds": round(time.monotonic() - t_read, 3),
            "e2e_latency_seconds": live.latency(),
            "connector_lag_seconds": summarize_us(lag_us),
        },
        "passed": not failures,
    }
    save_run_record(settings.results_dir, record)
    return record
