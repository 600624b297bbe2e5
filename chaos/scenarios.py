"""Running a delivery scenario: produce and consume through faults, then check every message.

Every scenario runs the same skeleton on one cluster shape:

1. a fresh topic (3 partitions; RF 3 and min.insync.replicas 2 on the
   3-broker cluster, RF 1 on the single broker);
2. its consumer groups, each one verifiable consumer process (recording each
   delivery before committing it);
3. one verifiable producer at a fixed rate (acks=all, idempotence);
4. its faults, one after another, each bounded and verified rolled back;
5. producing stops, every group is waited for until it committed the end of
   the log (bounded), the consumers stop;
6. the final read and the checker; each count is compared with the
   scenario's bound for this shape.

This module only runs: the scenarios themselves are chaos.catalog, the
bounds and the judge chaos.bounds.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from chaos.binding import ClusterIdentity, cluster_identity
from chaos.bounds import bounds_for, consumer_stalls, judge, producer_stall
from chaos.broker_target import broker_to_fault
from chaos.catalog import PARTITIONS, Fault, Scenario, topic_layout
from chaos.checker import GROUP_ANOMALIES, LOG_ANOMALIES, CheckResult, check
from chaos.consumer_processes import consumer_process, wait_committed, warnings_file
from chaos.errors import ChaosError
from chaos.evidence import (
    NO_EFFECT,
    BrokerEffect,
    EffectWatch,
    GroupRebalance,
    fault_failures,
)
from chaos.faults import FaultRunner
from chaos.final_read import read_log
from chaos.ledger import DeliveryLog
from chaos.metrics import DeliveryMetrics
from chaos.redelivery import redelivery_bounds
from chaos.safety import local_targets, require_running
from chaos.targets import ProcessTarget
from chaos.traffic import TrafficMeter, count_lines
from chaos.verifiable_consumer import DEFAULT_BATCH
from chaos.verifiable_producer import VerifiableProducer
from kafkaval import kafka_admin
from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.record_types import ScenarioEntry
from kafkaval.records import iso, utc_now
from stack.processes import ManagedProcess

# How long a fault waits for every group to consume (after a broker restart a
# consumer reconnects with backoff); past it the fault runs and is judged "not live".
LIVE_TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class Timing:
    """Durations and rates of one scenario run (QUICK shrinks them, same code path)."""

    rate: float = 300.0  # messages per second
    warmup: float = 5.0  # producing before the first fault
    gap: float = 5.0  # between faults and after the last one
    down: float = 3.0  # how long a killed/stopped target stays down
    partition: float = 15.0  # longer than broker.session.timeout.ms: leaders move
    max_seconds: float = 240.0  # hard bound of the producer
    settle: float = 90.0  # waiting for consumers to catch up

    @classmethod
    def quick(cls) -> Timing:
        # A partition must outlast a controller election (the cut broker may be
        # the active controller: measured 3.5 s on a loaded host) plus
        # broker.session.timeout.ms (6 s) counted by the new controller: at 8 s
        # the cut healed before it was fenced, and the fault showed no effect.
        return cls(rate=150.0, warmup=3.0, gap=3.0, down=1.0, partition=14.0,
                   max_seconds=150.0, settle=60.0)  # fmt: skip


@dataclasses.dataclass
class Unsafe:
    """Deliberately unsafe setups, for the checker's live self-test only."""

    consumer_skip_every: int = 0  # consumers commit records they never recorded
    consumer_seek_past: int = 0  # consumers seek this many records ahead now and then
    producer_fail_every: int = 0  # the producer records every N-th ack as a failure
    producer: dict[str, str] = dataclasses.field(default_factory=dict)  # e.g. acks=0


def fault_seconds(fault: Fault, timing: Timing) -> float:
    return timing.partition if fault.kind in ("partition", "pause") else timing.down


def producer_config(settings: Settings, shape: str, unsafe: Unsafe) -> dict[str, str]:
    return {
        **settings.client_config("producer"),
        "acks": "all",
        "enable.idempotence": "true",
        # Long enough that a send outlives a broker restart on the single
        # broker instead of failing; bounded so the run ends.
        "message.timeout.ms": "60000",
        "linger.ms": "5",
        **unsafe.producer,
    }


def _create_topic(settings: Settings, topic: str, shape: str) -> None:
    """Create the scenario's fresh topic.

    Raises:
        ChaosError: creation failed.
    """
    rf, config = topic_layout(shape)
    try:
        kafka_admin.create_topics(settings, [topic], PARTITIONS, rf, config, timeout=30.0)
    except KafkavalError as e:
        raise ChaosError(str(e)) from e


def _delete_topic(settings: Settings, topic: str) -> None:
    try:
        kafka_admin.delete_topics(settings, [topic], timeout=15.0)
    except KafkavalError:
        pass  # best effort: a leftover test topic only costs disk


@dataclasses.dataclass
class ScenarioRun:
    """Everything one scenario run needs: where, how long, what to report to."""

    settings: Settings
    shape: str
    run_id: str
    timing: Timing
    metrics: DeliveryMetrics
    stop: threading.Event
    key: str  # the result key (name, or name@single)
    target_name: str | None = None  # broker to fault; None: leader of partition 0
    unsafe: Unsafe = dataclasses.field(default_factory=Unsafe)
    say: Callable[[str], None] = print
    work_dir: Path | None = None


def _run_faults(
    run: ScenarioRun,
    scenario: Scenario,
    topic: str,
    cluster: ClusterIdentity,
    faults: FaultRunner,
    consumers: dict[str, ManagedProcess],
    meter: TrafficMeter,
) -> float:
    """Each fault of ``scenario`` in turn, bound, watched for its effect, with its traffic.

    Stops at the first fault not rolled back (the runner refuses more) and
    when ``run.stop`` is set. Returns the monotonic time the last undo ended.
    """
    local = local_targets(run.settings)
    client = run.settings.client_config()
    undone_at = time.monotonic()
    since = meter.zero()
    for fault in scenario.faults:
        # A fault counts only on live traffic: every group consumed since the last one.
        meter.wait_consuming(since, LIVE_TIMEOUT, run.stop.is_set)
        probe: EffectWatch
        if fault.role == "broker":
            target, identity = broker_to_fault(
                run.settings, run.target_name, topic, local, cluster, run.key
            )
            probe = BrokerEffect(client, topic, identity.node_id)
        else:
            group = fault.role.split(":", 1)[1]
            target, identity = ProcessTarget(consumers[group]), None
            probe = GroupRebalance(client, _group_id(run, group))
        require_running(target)
        seconds = fault_seconds(fault, run.timing)
        run.say(f"[{run.key}] fault {fault.kind} on {target.name} for {seconds:g} s")
        start = meter.snapshot()
        record = faults.run(fault.kind, target, seconds, probe)
        undone_at = time.monotonic()
        undone = meter.snapshot()
        if identity is not None:
            record.bound_to = dataclasses.asdict(identity)
        effect = record.observed_effect
        run.say(
            f"[{run.key}] fault {fault.kind} on {target.name}: "
            + (f"seen: {effect['what']}" if effect else NO_EFFECT)
            + ("; rolled back" if record.rolled_back else "; NOT rolled back: ")
            + "; ".join(record.problems)
        )
        if not record.rolled_back:
            record.traffic = TrafficMeter.window(since, start, undone, undone)
            run.say(f"[{run.key}] LEFT BROKEN: {faults.left_broken[-1]}; no further faults")
            break
        stopped = run.stop.is_set() or run.stop.wait(run.timing.gap)
        record.traffic = TrafficMeter.window(since, start, undone, meter.snapshot())
        since = undone
        if stopped:
            break
    return undone_at


def _group_id(run: ScenarioRun, group: str) -> str:
    return f"kafkaval-{run.run_id}-{run.key}-{group}"


def run_scenario(scenario: Scenario, run: ScenarioRun) -> ScenarioEntry:
    """Run ``scenario`` once on ``run.shape``; return its result entry for the record.

    Raises:
        ChaosError: the scenario could not run (topic, target, final read);
            faults are rolled back and consumers stopped first.
    """
    topic = f"{run.settings.topic_prefix}delivery.{run.key.replace('@', '.')}.{run.run_id}"
    work = run.work_dir or run.settings.path("state_dir") / "chaos" / run.run_id
    work.mkdir(parents=True, exist_ok=True)
    started_at = time.time()
    started_wall = utc_now()  # the scenario's own report window starts here
    cluster = cluster_identity(run.settings.client_config())
    if run.target_name:  # an explicit target is refused before anything starts
        broker_to_fault(
            run.settings, run.target_name, topic, local_targets(run.settings), cluster, run.key
        )
    _create_topic(run.settings, topic, run.shape)
    consumers: dict[str, ManagedProcess] = {}
    outs: dict[str, Path] = {}
    faults = FaultRunner(
        stop=run.stop,
        on_change=lambda kind, target, active: run.metrics.fault(run.key, kind, target, active),
    )
    producer = VerifiableProducer(
        f"{run.key.replace('@', '.')}-{run.run_id}-p0",
        topic,
        producer_config(run.settings, run.shape, run.unsafe),
        on_outcome=lambda outcome: run.metrics.inc(run.key, run.shape, outcome),
        on_ack_latency=lambda seconds: run.metrics.ack_latency(run.key, run.shape, seconds),
        fail_every=run.unsafe.producer_fail_every,
    )
    progress_stop = threading.Event()
    try:
        for group in scenario.groups:
            outs[group] = work / f"{run.key}-{group}.deliveries"
            consumers[group] = consumer_process(
                run.settings,
                f"consumer-{run.key}-{group}",
                _group_id(run, group),
                topic,
                outs[group],
                run.timing.max_seconds + run.timing.settle + 60,
                run.unsafe.consumer_skip_every,
                run.unsafe.consumer_seek_past,
            )
            consumers[group].start()
        max_messages = int(run.timing.rate * run.timing.max_seconds)
        thread = producer.run_in_thread(run.timing.rate, max_messages, run.timing.max_seconds)
        _start_progress(run, producer, progress_stop)
        meter = TrafficMeter(
            sent=lambda: len(producer.ledger),
            acked=lambda: int(run.metrics.value(run.key, run.shape, "acked")),
            consumed={g: functools.partial(count_lines, path) for g, path in outs.items()},
        )
        faults_undone_at = time.monotonic()  # moved on by each fault's undo
        if not run.stop.wait(run.timing.warmup):
            faults_undone_at = _run_faults(run, scenario, topic, cluster, faults, consumers, meter)
        producer.stop()
        thread.join(timeout=120)
        if thread.is_alive():
            raise ChaosError(f"[{run.key}] the producer did not finish within 120 s of stopping")
        if producer.error is not None:
            raise ChaosError(f"[{run.key}] producer failed: {producer.error}") from producer.error
        group_ids = [_group_id(run, g) for g in scenario.groups]
        settled = wait_committed(run.settings, topic, group_ids, run.timing.settle, run.stop)
    finally:
        producer.stop()
        progress_stop.set()
        for proc in consumers.values():
            proc.stop(timeout=15)
    log = read_log(run.settings.client_config(), topic)
    groups = {}
    consumer_warnings: dict[str, list[str]] = {}
    for group, path in outs.items():
        deliveries = DeliveryLog()
        if path.exists():
            deliveries.extend_from_file(str(path))
        groups[group] = deliveries
        warnings_path = warnings_file(path)
        if warnings_path.exists():
            consumer_warnings[group] = warnings_path.read_text(errors="replace").splitlines()
    result = check({producer.ledger.producer_id: producer.ledger}, log, groups)
    fault_entries = [r.to_dict() for r in faults.records]
    redelivery = redelivery_bounds(
        scenario.groups,
        [(f.role, r) for f, r in zip(scenario.faults, fault_entries, strict=False)],
        run.timing.rate,
        DEFAULT_BATCH,
    )
    bounds = bounds_for(scenario, {g: r["bound"] for g, r in redelivery.items()})
    bounds["why"]["redeliveries_per_group"] = redelivery
    failures = judge(result, bounds, faults.all_rolled_back(), producer.client_warnings)
    producer_stopped = producer_stall(producer, faults_undone_at, result)
    stalls = [producer_stopped] if producer_stopped else []
    # The same instant on the wall clock, to compare with the deliveries files' times.
    faults_undone_wall = time.time() - (time.monotonic() - faults_undone_at)
    stalls += consumer_stalls(result, outs, faults_undone_wall, consumer_warnings)
    failures += [s.line for s in stalls]
    failures += [f"LEFT BROKEN: {line}" for line in faults.left_broken]
    failures += fault_failures(fault_entries)
    if run.stop.is_set():
        failures.append("interrupted")
    if not settled:
        failures.append("a consumer group did not commit the end of the log in time")
    _publish(run, result, not failures)
    _delete_topic(run.settings, topic)
    entry: dict[str, Any] = {
        "passed": not failures,
        "cluster": run.shape,
        "bootstrap_servers": cluster.bootstrap_servers,
        "cluster_id": cluster.cluster_id,
        "topic": topic,
        "started_at": iso(started_wall),
        "ended_at": iso(utc_now()),
        "duration_seconds": round(time.time() - started_at, 3),
        **{k: v for k, v in result.to_dict().items() if k != "groups"},
        "groups": {g: dataclasses.asdict(r) for g, r in result.groups.items()},
        "bounds": bounds,
        "failures": failures,
        "client_stalled": any(s.client_bug for s in stalls),
        "client_warnings": producer.client_warnings,
        "consumer_warnings": consumer_warnings,
        "faults": fault_entries,
        "left_broken": faults.left_broken,
    }
    # The checker's counts and the fault records come as plain dicts (to_dict).
    return cast(ScenarioEntry, entry)


def _publish(run: ScenarioRun, r: CheckResult, passed: bool) -> None:
    for name in LOG_ANOMALIES:
        run.metrics.inc(run.key, run.shape, name, getattr(r, name))
    run.metrics.inc(run.key, run.shape, "sent", r.sent)
    for group, g in r.groups.items():
        for name in ("delivered", "redeliveries", *GROUP_ANOMALIES):
            run.metrics.inc_group(run.key, run.shape, group, name, getattr(g, name))
    run.metrics.passed(run.key, run.shape, passed)


def _start_progress(run: ScenarioRun, producer: VerifiableProducer, done: threading.Event) -> None:
    def report() -> None:
        began = time.monotonic()
        while not done.wait(5.0):
            m = run.metrics
            run.say(
                f"[{run.key}] {time.monotonic() - began:5.0f} s  sent {len(producer.ledger)}"
                f"  acked {m.value(run.key, run.shape, 'acked'):.0f}"
                f"  failed {m.value(run.key, run.shape, 'failed'):.0f}"
                f"  indeterminate {m.value(run.key, run.shape, 'indeterminate'):.0f}"
            )

    threading.Thread(target=report, name="progress", daemon=True).start()
