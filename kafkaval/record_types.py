"""The run record's shapes as types, for mypy.

``RecordHeader`` (every kind), ``PerformanceRecord`` and ``DeliveryRecord``
with their entries: the fields the writers put in (loadgen/suite.py,
chaos/suite.py) and the readers (report/, kafkaval/junit.py, scheduler/)
rely on, as ``kafkaval/schemas/run-record.schema.json`` describes them. The
CDC kinds, ``CdcPerformanceRecord``, ``CdcLoadRecord`` and
``CdcDeliveryRecord``: what cdc/snapshot.py, cdc/load.py and
cdc/restart_record.py write (the schema checks only their header). Reading and
writing a record is kafkaval/records.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing's own from Python 3.13


class RecordHeader(TypedDict):
    """The fields every run record starts with (``record_header``)."""

    schema_version: int
    run_id: str
    kind: str
    started_at: str  # ISO 8601 UTC (``iso``)
    ended_at: str
    # Optional in the header: the kinds of cdc/ and scheduler/ leave them out,
    # and records written before tags existed are still read (the trend).
    quick: NotRequired[bool]
    tags: NotRequired[dict[str, str]]
    environment: NotRequired[dict[str, Any]]  # kafkaval.environment.run_environment


# ---- performance (loadgen/suite.py, loadgen/repetition.py) -----------------


class Latency(TypedDict):
    """An exact in-process latency summary in seconds; None figures when nothing was measured."""

    p50: float | None
    p95: float | None
    p99: float | None
    p999: float | None
    max: float | None
    mean: float | None
    count: int


class ThresholdOutcome(TypedDict):
    """One judged threshold (``kafkaval.verdict.Check.to_record``)."""

    expr: str
    limit: float | None
    value: float | None  # None: not measured (then passed is False and reason says why)
    passed: bool
    reason: NotRequired[str]


class AbortedThreshold(ThresholdOutcome):
    """The threshold ``--abort-on-fail`` stopped the run on."""

    profile: str
    threshold: str


class Spread(TypedDict):
    median: float
    min: float
    max: float


class Repetition(TypedDict):
    """One repetition of a profile (loadgen.results.load_result plus the suite's fields)."""

    passed: bool
    started_at: str
    ended_at: str
    target_rate: float | None
    achieved_rate: float | None
    # None: the repetition broke (``error`` says why); a startup profile sends 0.
    sent: int | None
    acked: int | None
    failed: int | None
    consumed: int | None
    service_latency_seconds: Latency
    send_delay_seconds: Latency
    response_latency_seconds: Latency
    e2e_latency_seconds: Latency
    thresholds: dict[str, ThresholdOutcome]
    # Only some profiles or ways of running measure these.
    error: NotRequired[str]
    duplicates_consumed: NotRequired[int]
    acked_not_consumed: NotRequired[int]
    consumed_not_acked: NotRequired[int]
    messages_planned: NotRequired[int]
    produce_seconds: NotRequired[float | None]
    drain_seconds: NotRequired[float | None]
    recovery_seconds: NotRequired[float | None]  # the burst profile
    startup_seconds: NotRequired[float | None]  # startup profiles
    broker_memory_peak_bytes: NotRequired[float | None]
    broker_cpu_peak_cores: NotRequired[float | None]
    loadgen_cpu_seconds: NotRequired[float]
    drift: NotRequired[dict[str, float | None]]  # the sustained profile
    workers: NotRequired[int]
    client_errors: NotRequired[dict[str, int]]
    service_p99_windowed_seconds: NotRequired[float | None]  # loadgen.cost.windowed_p99
    loadgen_max_rss_bytes: NotRequired[int]
    # The brokers' figures (loadgen.broker_resources.broker_peaks; note: why they are None).
    broker_cpu_seconds: NotRequired[float | None]
    broker_disk_written_bytes: NotRequired[int | None]
    broker_gc_seconds: NotRequired[float | None]
    note: NotRequired[str]
    # The costs (loadgen.cost.cost_figures), each only when its inputs were measured.
    broker_cpu_seconds_per_1k_messages: NotRequired[float]
    broker_cpu_seconds_per_mib: NotRequired[float]
    loadgen_cpu_seconds_per_message: NotRequired[float]
    broker_disk_bytes_per_message: NotRequired[float]


class RecordSize(TypedDict):
    size: int
    weight: float


class PhaseParameters(TypedDict):
    count: int
    rate: float | None  # None: as fast as possible


class ProfileParameters(TypedDict):
    """A profile's parameters; the workload's only for load profiles (not startup)."""

    description: str
    quick: bool
    workers: int
    topics: NotRequired[list[str]]
    partitions: NotRequired[int]
    replication_factor: NotRequired[int]
    record_size: NotRequired[int]
    record_sizes: NotRequired[list[RecordSize]]
    payload: NotRequired[str]
    key_space: NotRequired[int]
    phases: NotRequired[list[PhaseParameters]]
    producer_props: NotRequired[dict[str, str]]
    consumer_props: NotRequired[dict[str, str]]


class ProfileEntry(Repetition):
    """A profile's entry: the median repetition's figures, its parameters, every repetition."""

    parameters: ProfileParameters
    repetitions: list[Repetition]
    spread: NotRequired[dict[str, Spread]]  # with more than one repetition


class MetricsSource(TypedDict):
    """Where the run's metrics were exposed (the report's Prometheus selectors)."""

    job: str
    instances: list[str]
    histogram_error_bound: float


class PerformanceRecord(RecordHeader):
    """A ``performance`` run record (``kafkaval perf run``)."""

    passed: bool
    interrupted: bool
    aborted: AbortedThreshold | None
    repeat: int
    bootstrap_servers: str
    prometheus_url: str
    metrics: MetricsSource
    preflight: list[str]
    profiles: dict[str, ProfileEntry]


# ---- delivery (chaos/suite.py, chaos/scenarios.py; cdc/restart.py merges one) ----


class GroupEntry(TypedDict):
    """One consumer group's counts in a scenario (``chaos.checker.GroupResult``)."""

    delivered: int
    redeliveries: int
    missing: int
    unseen: int
    inconsistent_offsets: int
    nonmonotonic_poll: int
    poll_skip: int
    torn_lines: int
    unreadable_lines: int
    missing_ids: list[str]
    redelivered_ids: list[str]
    unseen_ids: list[str]
    inconsistent_offset_ids: list[str]
    nonmonotonic_poll_ids: list[str]
    poll_skip_ids: list[str]
    unreadable_line_samples: list[str]


class FaultEntry(TypedDict):
    """One applied fault (``chaos.faults.FaultRecord``; the CDC run writes the first five)."""

    kind: str
    target: str
    started_at: str
    ended_at: str
    rolled_back: bool
    planned_seconds: NotRequired[float]
    held_seconds: NotRequired[float]
    problems: NotRequired[list[str]]
    observed_effect: NotRequired[dict[str, Any] | None]  # {what, when, how}; None: not seen
    bound_to: NotRequired[dict[str, Any] | None]
    traffic: NotRequired[dict[str, Any] | None]


class ScenarioEntry(TypedDict):
    """One scenario's result: a chaos scenario's, or the CDC connector-restart run's.

    The CDC run measures neither failed sends, redeliveries nor failed-but-visible
    writes (None, never 0) and has no consumer groups.
    """

    passed: bool
    cluster: str  # the shape: "single" or "3-broker"
    started_at: str
    ended_at: str
    sent: int
    acked: int
    failed: int | None
    indeterminate: int
    lost: int
    log_duplicates: int
    redeliveries: int | None
    reordered: int | None
    failed_visible: int | None
    groups: dict[str, GroupEntry]
    # The maximum of each count: a number, a flag, or per group ``{group: n}``
    # under ``<count>_per_group``; ``why`` explains the derived ones.
    bounds: dict[str, Any]
    failures: list[str]
    faults: list[FaultEntry]
    # A chaos scenario's (chaos.scenarios.run_scenario); the checker's counts and
    # id samples beyond the ones above are kept too.
    bootstrap_servers: NotRequired[str]
    cluster_id: NotRequired[str]
    topic: NotRequired[str]
    duration_seconds: NotRequired[float]
    in_log: NotRequired[int]
    inconsistent_offsets: NotRequired[int]
    foreign: NotRequired[int]
    removed: NotRequired[int]
    client_stalled: NotRequired[bool]
    client_warnings: NotRequired[list[str]]
    consumer_warnings: NotRequired[dict[str, list[str]]]
    left_broken: NotRequired[list[str]]
    # The CDC run's (cdc/restart.py delivery_entry).
    source: NotRequired[str]
    prometheus_totals: NotRequired[dict[str, str]]  # count -> promql query name
    resnapshotted: NotRequired[int]
    bound_rule: NotRequired[str]


class ClusterRef(TypedDict):
    bootstrap_servers: str
    cluster_id: str


class DeliveryRecord(RecordHeader):
    """A ``delivery`` run record (``kafkaval delivery run``; ``merge_scenario`` adds to it)."""

    passed: bool
    scenarios: dict[str, ScenarioEntry]
    # Set by the delivery suite; a record merge_scenario started has none of them.
    interrupted: NotRequired[bool]
    parameters: NotRequired[dict[str, Any]]  # the Timing, target and shapes
    clusters: NotRequired[dict[str, ClusterRef]]  # shape -> the cluster it tested
    duration_seconds: NotRequired[float]
    bootstrap_servers: NotRequired[str | None]  # None: no scenario ran
    cluster_id: NotRequired[str | None]
    healed_leftover_partitions: NotRequired[list[str]]
    leftover_partition_rules: NotRequired[list[str]]
    # Set by merge_scenario: the delivery suite's own verdict, the entries merged.
    suite_passed: NotRequired[bool]
    merged: NotRequired[list[str]]


# ---- cdc-performance, cdc-load, cdc-delivery (cdc/snapshot.py, cdc/load.py, cdc/restart.py) ----


class E2eLatency(Latency):
    """The CDC live reader's end-to-end latency (``cdc.live.LiveReader.latency``)."""

    note: NotRequired[str]  # the live reader failed: why


class ChangeMixEntry(TypedDict):
    """Shares of inserts, updates and deletes (``cdc.changes.ChangeMix``)."""

    inserts: float
    updates: float
    deletes: float


class ChangeCheckResults(TypedDict):
    """Every committed change checked (``cdc.change_checker.CheckResult.as_dict``)."""

    committed: int
    delivered: int
    missing: int
    duplicates: int
    duplicates_by_phase: dict[str, int]
    bounds: dict[str, int | None]
    resnapshotted: int
    unexpected: int
    txid_mismatches: int
    reordered: int
    missing_sample: list[list[Any]]  # [table, id, op, version]
    failures: list[str]
    passed: bool


class CdcSnapshotParameters(TypedDict):
    rows: int
    rows_per_table: dict[str, int]
    snapshot_mode: str
    connector: str
    topics: list[str]


class CdcSnapshotResults(TypedDict):
    rows_expected: int
    rows_read: int
    snapshot_events: int
    duplicate_reads: int
    rows_read_per_table: dict[str, int]
    other_events: dict[str, int]  # op -> events that were no snapshot read
    exact_count: bool
    load_seconds: float
    # None: not measured (the snapshot not fully consumed).
    snapshot_duration_seconds: float | None
    snapshot_rows_per_second: float | None
    snapshot_read_seconds: float | None
    time_to_all_consumed_seconds: float | None
    failures: list[str]


class CdcPerformanceRecord(RecordHeader):
    """A ``cdc-performance`` run record (``kafkaval cdc snapshot``; ``quick`` always set)."""

    profile: str
    parameters: CdcSnapshotParameters
    results: CdcSnapshotResults
    passed: bool


class CdcLoadParameters(TypedDict):
    rate: float
    duration: float
    mix: ChangeMixEntry
    min_rate_fraction: float
    connector: str
    topics: list[str]


class CdcLoadResults(ChangeCheckResults):
    target_rate: float
    achieved_rate: float
    load_seconds: float
    events_read: int
    tombstones: int
    indeterminate: int
    caught_up: bool
    catch_up_seconds: float
    e2e_latency_seconds: E2eLatency
    connector_lag_seconds: Latency


class CdcLoadRecord(RecordHeader):
    """A ``cdc-load`` run record (``kafkaval cdc load``)."""

    scenario: str
    parameters: CdcLoadParameters
    results: CdcLoadResults
    passed: bool


class RestartParameters(TypedDict):
    rate: float
    phase_seconds: float
    mix: ChangeMixEntry
    offset_flush_interval_ms: int
    lag_slack_seconds: float
    mutation: str | None
    connector: str
    topics: list[str]


class RestartPhase(TypedDict):
    """One phase of the connector-restart run (``cdc.restart_record.phase_entry``)."""

    changes: int
    recovery_seconds: float | None  # None: the pipeline did not run again
    duplicate_bound: int
    fault: FaultEntry  # the first five fields; ``observed_effect``, ``problems``
    duplicates: NotRequired[int]  # set by restart_record once the changes are checked


class CdcDeliveryResults(ChangeCheckResults):
    phases: dict[str, RestartPhase]
    events_read: int
    tombstones: int
    indeterminate: int
    caught_up: bool
    catch_up_seconds: float
    connector_lag_ms_p50: int | None
    connector_lag_ms_max: int | None
    e2e_latency_seconds: E2eLatency


class CdcDeliveryRecord(RecordHeader):
    """A ``cdc-delivery`` run record (``kafkaval cdc restart``; joins the delivery record
    as a ``ScenarioEntry``, ``cdc.restart_record.delivery_entry``)."""

    scenario: str
    parameters: RestartParameters
    bound_rule: str
    results: CdcDeliveryResults
    passed: bool


# The suites' records, compared by scheduler/ (baselines, candidates, history).
SuiteRecord = PerformanceRecord | DeliveryRecord


def is_performance(record: Mapping[str, Any]) -> TypeIs[PerformanceRecord]:
    """A record read by ``load_run_record`` is a ``PerformanceRecord`` when its kind says so."""
    return record.get("kind") == "performance"


def is_delivery(record: Mapping[str, Any]) -> TypeIs[DeliveryRecord]:
    """A record read by ``load_run_record`` is a ``DeliveryRecord`` when its kind says so."""
    return record.get("kind") == "delivery"
