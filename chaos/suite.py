"""The delivery suite: scenarios on cluster shapes, one run record, a final table.

Result keys in ``results/latest-delivery.json``: a scenario's name when one
shape runs; with both shapes the 3-broker run keeps the bare name and the
single-broker run gets the suffix ``@single`` (``broker-restart@single``).

Cluster shapes: when the configured Kafka is the local stack, a shape it is
not is started as a second local stack (``<state_dir>-single`` or
``<state_dir>-cluster`` with ports shifted by 200) and stopped afterwards.
Against any other Kafka only the shape it has can run.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

from chaos.catalog import SCENARIOS, SHAPES, Scenario
from chaos.checker import offset_anomalies
from chaos.errors import ChaosError
from chaos.metrics import DeliveryMetrics
from chaos.netpartition import leftover_rules
from chaos.scenarios import ScenarioRun, Timing, Unsafe, fault_seconds, run_scenario
from kafkaval.config import Settings
from kafkaval.environment import run_environment
from kafkaval.errors import UsageError
from kafkaval.files import ensure_writable_dir
from kafkaval.kafka_client import check_clients
from kafkaval.record_types import ClusterRef, DeliveryRecord
from kafkaval.records import iso, new_run_id, record_header, save_run_record, utc_now
from stack import local

SHAPE_PORT_SHIFT = 200


def validate_scenarios(names: list[str]) -> list[str]:
    """The scenario names in suite order (all when ``names`` is empty).

    Raises:
        UsageError: an unknown name.
    """
    for name in names:
        if name not in SCENARIOS:
            raise UsageError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    return [n for n in SCENARIOS if not names or n in names]


def default_cluster(settings: Settings) -> str:
    """``both`` where the local stack can start the other shape; else the Kafka's own."""
    if local.is_local_kafka(settings):
        return "both"
    return own_shape(settings)


def own_shape(settings: Settings) -> str:
    """The shape of the configured Kafka itself."""
    return "3-broker" if settings.brokers >= 3 else "single"


def shapes_of(cluster: str) -> list[str]:
    if cluster == "both":
        return ["3-broker", "single"]
    if cluster not in SHAPES:
        raise UsageError(f"unknown cluster shape {cluster!r}; choose single, 3-broker or both")
    return [cluster]


def result_key(name: str, shape: str, shapes: list[str]) -> str:
    return f"{name}@single" if shape == "single" and len(shapes) > 1 else name


def plan(names: list[str], shapes: list[str], timing: Timing, target: str | None) -> list[str]:
    """Human-readable plan: which fault, on which target, when, for how long."""
    lines = []
    for shape in shapes:
        for name in names:
            sc = SCENARIOS[name]
            lines.append(f"{result_key(name, shape, shapes)} ({shape}): {sc.description}")
            lines.append(
                f"  produce {timing.rate:g} msg/s (acks=all, idempotence), groups "
                f"{', '.join(sc.groups)}; first fault after {timing.warmup:g} s"
            )
            for fault in sc.faults:
                who = (
                    (target or "the leader of partition 0")
                    if fault.role == "broker"
                    else (f"the consumer of group {fault.role.split(':')[1]}")
                )
                lines.append(
                    f"  - {fault.kind} {who} for {fault_seconds(fault, timing):g} s, "
                    f"then undo and verify; {timing.gap:g} s pause"
                )
    return lines


def _is_local(settings: Settings) -> bool:
    return local.is_local_kafka(settings) and bool(local.running(settings))


@contextmanager
def shape_settings(settings: Settings, shape: str) -> Iterator[Settings]:
    """Settings pointing at a Kafka of ``shape``, starting a local one if needed.

    Raises:
        UsageError: the configured Kafka is not local and has another shape.
    """
    brokers = 3 if shape == "3-broker" else 1
    if settings.brokers == brokers or not _is_local(settings):
        if not _is_local(settings) and settings.brokers != brokers:
            raise UsageError(
                f"the configured Kafka has {settings.brokers} broker(s); the {shape} shape needs "
                "the local stack (kafkaval stack up) or --cluster matching it"
            )
        yield settings
        return
    shift = SHAPE_PORT_SHIFT
    other = dataclasses.replace(
        settings,
        brokers=brokers,
        state_dir=f"{settings.state_dir}-{'cluster' if brokers == 3 else 'single'}",
        broker_port=settings.broker_port + shift,
        controller_port=settings.controller_port + shift,
        prometheus_port=settings.prometheus_port + 1,
        # Its exporter serves on metrics_port + 17: clear of this stack's.
        metrics_port=settings.metrics_port + shift,
        jmx_port=settings.jmx_port + shift if settings.jmx_port else 0,
    )
    started = not local.running(other)
    try:
        local.up(other)
        yield local.local_settings(other)
    finally:
        if started:
            local.down(other)


def run_suite(
    settings: Settings,
    names: list[str],
    shapes: list[str],
    quick: bool,
    target: str | None = None,
    shape_overrides: Mapping[str, Settings] | None = None,
    unsafe: Unsafe | None = None,
    metrics: DeliveryMetrics | None = None,
    say: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    timing: Timing | None = None,
    tags: Mapping[str, str] | None = None,
    catalog: Mapping[str, Scenario] = SCENARIOS,
) -> DeliveryRecord:
    """Run the scenarios on the shapes; save and return the run record.

    Args:
        names: scenarios of ``catalog`` (chaos.catalog's; the checker's live
            self-tests bring their own).
        shape_overrides: Settings to use per shape (tests pass their fixtures).
        unsafe: deliberately unsafe setup (live self-test of the checker).
        stop: set to interrupt (the CLI's signal handlers set it).
        tags: the run's tags (kafkaval.tags), kept in the record.

    Raises:
        ChaosError: a scenario could not run at all.
        KafkavalError: the results folder is not writable (checked before any load).
    """
    ensure_writable_dir(settings.path("results_dir"))
    timing = timing or (Timing.quick() if quick else Timing())
    stop = stop or threading.Event()
    metrics = metrics or DeliveryMetrics()
    run_id = new_run_id()
    record: DeliveryRecord = {
        # ended_at is set when the run ends (below, in finally).
        **record_header(
            "delivery",
            run_id,
            utc_now(),
            environment=_environment(settings, shapes),
            quick=quick,
            tags=tags or {},
        ),
        "passed": False,
        "parameters": dataclasses.asdict(timing) | {"target": target, "shapes": shapes},
        "scenarios": {},
        "clusters": {},  # shape -> the cluster it tested: bootstrap servers, cluster id
    }
    began = time.monotonic()
    broken = False
    try:
        record["healed_leftover_partitions"] = _heal_leftovers(settings, say)
        for shape in shapes:
            if stop.is_set():
                break
            with ExitStack() as stack:
                if shape_overrides and shape in shape_overrides:
                    s = shape_overrides[shape]
                else:
                    say(f"preparing the {shape} Kafka ...")
                    s = stack.enter_context(shape_settings(settings, shape))
                # A wrong password or CA fails here, before any producer starts.
                check_clients(s)
                for name in names:
                    if stop.is_set():
                        break
                    key = result_key(name, shape, shapes)
                    say(f"[{key}] start on {shape} ({s.bootstrap_servers})")
                    run = ScenarioRun(
                        settings=s, shape=shape, run_id=run_id, timing=timing, metrics=metrics,
                        stop=stop, key=key, target_name=target, unsafe=unsafe or Unsafe(), say=say,
                    )  # fmt: skip
                    entry = run_scenario(catalog[name], run)
                    record["scenarios"][key] = entry
                    record["clusters"][shape] = {
                        "bootstrap_servers": entry["bootstrap_servers"],
                        "cluster_id": entry["cluster_id"],
                    }
                    verdict = "PASS" if entry["passed"] else "FAIL: " + "; ".join(entry["failures"])
                    say(f"[{key}] {verdict}")
                    if entry["left_broken"]:
                        # Later scenarios would run on a cluster we broke: stop here.
                        broken = True
                        say(f"[{key}] a fault was not rolled back: the suite stops here")
                        break
            if broken:
                break
    finally:
        record["ended_at"] = iso(utc_now())
        record["duration_seconds"] = round(time.monotonic() - began, 3)
        record["interrupted"] = stop.is_set()
        tested = _tested_cluster(record["clusters"])
        record["bootstrap_servers"] = tested["bootstrap_servers"]
        record["cluster_id"] = tested["cluster_id"]
        try:
            record["leftover_partition_rules"] = leftover_rules()
        except ChaosError as e:
            record["leftover_partition_rules"] = [f"cannot list: {e}"]
        record["passed"] = (
            bool(record["scenarios"])
            and all(e["passed"] for e in record["scenarios"].values())
            and not record["interrupted"]
            and not record["leftover_partition_rules"]
            and len(record["scenarios"]) == len(names) * len(shapes)
        )
        save_run_record(settings.results_dir, record)
    return record


def _heal_leftovers(settings: Settings, say: Callable[[str], None]) -> list[str]:
    """Heal container partitions a crashed earlier run left on; the names healed."""
    from chaos.docker_backend import heal_leftover_partitions  # the engine only when needed

    healed = heal_leftover_partitions(settings)
    if healed:
        say(f"healed network partitions left by a crashed run: {', '.join(healed)}")
    return healed


def _tested_cluster(clusters: dict[str, ClusterRef]) -> dict[str, str | None]:
    """Top-level ``bootstrap_servers`` and ``cluster_id``: the cluster tested, one string.

    With two shapes each value names its shape (``3-broker: ...; single: ...``);
    None when no scenario ran, so nothing is claimed about a cluster not tested.
    """
    if not clusters:
        return {"bootstrap_servers": None, "cluster_id": None}
    if len(clusters) == 1:
        (only,) = clusters.values()
        return {"bootstrap_servers": only["bootstrap_servers"], "cluster_id": only["cluster_id"]}
    return {
        field: "; ".join(f"{shape}: {c[field]}" for shape, c in clusters.items())
        for field in ("bootstrap_servers", "cluster_id")
    }


def _environment(settings: Settings, shapes: list[str]) -> dict[str, Any]:
    env = run_environment(settings)
    if len(shapes) > 1:
        # Each shape is its own stack: the table's cluster column says which.
        env["brokers"] = "1 (single) and 3 (3-broker), per scenario"
    return env


def table(record: DeliveryRecord) -> str:
    """The final table: one row per scenario result."""
    cols = ("scenario", "cluster", "sent", "acked", "failed", "indet", "lost", "dups", "redeliv",
            "reord", "failvis", "missing", "offsets", "faults ok", "result")  # fmt: skip
    rows: list[tuple[object, ...]] = [cols]
    for key, e in record["scenarios"].items():
        missing = sum(g["missing"] for g in e["groups"].values())
        offsets = offset_anomalies(e)
        faults_ok = all(f["rolled_back"] for f in e["faults"])
        rows.append((
            key, e["cluster"], e["sent"], e["acked"], e["failed"], e["indeterminate"], e["lost"],
            e["log_duplicates"], e["redeliveries"], e["reordered"], e["failed_visible"], missing,
            "-" if offsets is None else str(offsets), "yes" if faults_ok else "NO",
            "PASS" if e["passed"] else "FAIL",
        ))  # fmt: skip
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(cols))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
