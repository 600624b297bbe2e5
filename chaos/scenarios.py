"""The delivery scenarios: produce and consume through faults, then check every message.

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

The bounds (`bounds_for`) are the written expectation: 0 acked lost, 0
failed-but-visible, 0 log duplicates and 0 reorders (idempotent producer),
0 inconsistent offsets, foreign or removed records; per group 0 missing,
unseen, inconsistent offsets, non-monotonic polls, poll skips and unreadable
ledger lines (chaos.checker defines each class), and redeliveries at most one
consumer batch (the records since the last commit) per fault that can
trigger a rebalance.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from chaos.checker import (
    GROUP_ANOMALIES,
    LOG_ANOMALIES,
    CheckResult,
    check,
    group_bound,
    samples,
)
from chaos.client_log import known_cause
from chaos.errors import ChaosError
from chaos.faults import FaultRunner
from chaos.final_read import read_log
from chaos.ledger import DeliveryLog
from chaos.metrics import DeliveryMetrics
from chaos.safety import chaos_pid_dir, local_targets, require_running, resolve_target
from chaos.targets import ProcessTarget, Target
from chaos.verifiable_consumer import DEFAULT_BATCH
from chaos.verifiable_producer import VerifiableProducer
from kafkaval.config import Settings
from stack.probes import quiet
from stack.processes import ManagedProcess

SHAPES = ("single", "3-broker")
PARTITIONS = 3


@dataclasses.dataclass(frozen=True)
class Fault:
    kind: str  # a chaos.faults kind
    role: str  # "broker" (the chosen broker) or "consumer:<group>"


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    groups: tuple[str, ...]
    faults: tuple[Fault, ...]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "broker-restart",
            "graceful restart, then kill -9, of a broker while producing and consuming",
            ("g1",),
            (Fault("restart", "broker"), Fault("kill", "broker")),
        ),
        Scenario(
            "consumer-restart",
            "kill -9, then gracefully restart, the only consumer of a group mid-stream",
            ("g1",),
            (Fault("kill", "consumer:g1"), Fault("restart", "consumer:g1")),
        ),
        Scenario(
            "network-partition",
            "cut one broker off the network (both ways) for a bounded time, then heal",
            ("g1",),
            (Fault("partition", "broker"),),
        ),
        Scenario(
            "multiple-consumer-groups",
            "three groups read the same topic; one is killed -9 mid-way and resumes",
            ("g1", "g2", "g3"),
            (Fault("kill", "consumer:g2"),),
        ),
    )
}


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
        return cls(
            rate=150.0, warmup=3.0, gap=3.0, down=1.0, partition=8.0, max_seconds=150.0, settle=60.0
        )


@dataclasses.dataclass
class Unsafe:
    """Deliberately unsafe setups, for the checker's live self-test only."""

    consumer_skip_every: int = 0  # consumers commit records they never recorded
    consumer_seek_past: int = 0  # consumers seek this many records ahead now and then
    producer_fail_every: int = 0  # the producer records every N-th ack as a failure
    producer: dict[str, str] = dataclasses.field(default_factory=dict)  # e.g. acks=0


def fault_seconds(fault: Fault, timing: Timing) -> float:
    return timing.partition if fault.kind in ("partition", "pause") else timing.down


def bounds_for(scenario: Scenario, shape: str, unsafe: Unsafe | None = None) -> dict[str, Any]:
    """The written expectation of ``scenario`` on ``shape``: the maximum of each count."""
    # Each fault may cost each group one rebalance, redelivering at most the
    # batch it had not committed yet.
    per_group = DEFAULT_BATCH * (len(scenario.faults) + 1)
    return {
        "lost": 0,
        "failed_visible": 0,
        "log_duplicates": 0,  # enable.idempotence=true on both shapes
        "reordered": 0,  # idempotence keeps order per partition across retries
        "inconsistent_offsets": 0,
        "foreign": 0,  # the scenario's topic is its own: anything else is a stray writer
        "removed": 0,  # a record the final read cannot see proves nothing either way
        **{f"{name}_per_group": 0 for name in GROUP_ANOMALIES},
        "redeliveries_per_group": per_group,
        "faults_rolled_back": True,
        "min_acked_fraction": 0.5,  # a run that acked almost nothing proves nothing
    }


def judge(result: CheckResult, bounds: dict[str, Any], faults_ok: bool) -> list[str]:
    """Every bound ``result`` exceeds, one line each; empty means passed."""
    failures = []

    def over(prefix: str, r: Any, name: str, bound: int) -> None:
        # A bound that is not stated is 0: an unstated anomaly class never passes.
        value = getattr(r, name)
        if value > bound:
            example = ", ".join(samples(r, name))
            line = f"{prefix}{name} {value} > {bound}"
            failures.append(f"{line} ({example})" if example else line)

    for name in LOG_ANOMALIES:
        over("", result, name, bounds.get(name, 0))
    if result.log_start_offsets:  # whatever was there, the final read could not check it
        starts = ", ".join(f"partition {p}: {o}" for p, o in result.log_start_offsets.items())
        failures.append(f"records removed before the final read (log start offsets {starts})")
    for group, g in result.groups.items():
        for name in (*GROUP_ANOMALIES, "redeliveries"):
            over(f"group {group} ", g, name, group_bound(bounds, name, group) or 0)
    if result.sent == 0 or result.acked < bounds["min_acked_fraction"] * result.sent:
        failures.append(f"acked {result.acked} of {result.sent} sent")
    if not faults_ok:
        failures.append("a fault was not rolled back (results not trusted)")
    return failures


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


def create_topic(settings: Settings, topic: str, shape: str) -> None:
    """Create the scenario's fresh topic.

    Raises:
        ChaosError: creation failed.
    """
    rf = 3 if shape == "3-broker" else 1
    config = {"min.insync.replicas": "2"} if rf == 3 else {}
    admin = AdminClient(quiet(settings.client_config()))
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=PARTITIONS, replication_factor=rf, config=config)],
        operation_timeout=30,
        request_timeout=30,
    )
    try:
        futures[topic].result(timeout=40)
    except KafkaException as e:
        raise ChaosError(f"cannot create topic {topic}: {e}") from e


def delete_topic(settings: Settings, topic: str) -> None:
    # Best effort: a leftover test topic only costs disk.
    admin = AdminClient(quiet(settings.client_config()))
    try:
        admin.delete_topics([topic], operation_timeout=10)[topic].result(timeout=15)
    except KafkaException:
        pass


def partition_leader(settings: Settings, topic: str, partition: int = 0) -> int | None:
    try:
        md = AdminClient(quiet(settings.client_config())).list_topics(topic, timeout=10)
    except KafkaException:
        return None
    t = md.topics.get(topic)
    if t is None or partition not in t.partitions:
        return None
    return t.partitions[partition].leader


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    consumer = Consumer(quiet({**settings.client_config(), "group.id": "kafkaval-ends"}))
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(PARTITIONS)
        }
    finally:
        consumer.close()


def committed(settings: Settings, group: str, topic: str) -> dict[int, int]:
    consumer = Consumer(quiet({**settings.client_config(), "group.id": group}))
    try:
        parts = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], 10)
        return {tp.partition: tp.offset for tp in parts}
    finally:
        consumer.close()


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


def _consumer_process(run: ScenarioRun, topic: str, group: str, out: Path) -> ManagedProcess:
    argv = [
        sys.executable, "-m", "chaos.verifiable_consumer",
        "--bootstrap", run.settings.bootstrap_servers,
        "--group", f"kafkaval-{run.run_id}-{run.key}-{group}",
        "--topic", topic, "--out", str(out),
        "--client-warnings", str(_warnings_file(out)),
        "--max-seconds", str(run.timing.max_seconds + run.timing.settle + 60),
    ]  # fmt: skip
    if run.unsafe.consumer_skip_every:
        argv += ["--skip-every", str(run.unsafe.consumer_skip_every)]
    if run.unsafe.consumer_seek_past:
        argv += ["--seek-past", str(run.unsafe.consumer_seek_past)]
    for key, value in {**run.settings.kafka, **run.settings.consumer}.items():
        argv += ["--prop", f"{key}={value}"]
    logs = run.settings.path("state_dir") / "logs"
    return ManagedProcess(
        name=f"consumer-{run.key}-{group}",
        argv=argv,
        log=logs / f"consumer-{run.key}-{group}.log",
        pid_dir=chaos_pid_dir(run.settings),
        cwd=str(Path(__file__).resolve().parents[1]),
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )


def _warnings_file(deliveries: Path) -> Path:
    return deliveries.with_suffix(".client-warnings")


def _broker_target(run: ScenarioRun, topic: str, local: dict[str, Target]) -> Target:
    if run.target_name:
        return resolve_target(
            run.settings, run.target_name, local, container=lambda n: _container(run.settings, n)
        )
    leader = partition_leader(run.settings, topic)
    name = f"broker-{leader}" if leader is not None else "broker-1"
    if name not in local and run.settings.chaos_targets:
        # Kafka in containers (compose): the allowed container of that node id.
        from chaos.docker_backend import broker_container

        return broker_container(run.settings, leader if leader is not None else 1)
    return resolve_target(run.settings, name, local)


def _container(settings: Settings, name: str) -> Target:
    from chaos.docker_backend import docker_target  # the engine only where it is used

    return docker_target(settings, name)


def run_scenario(scenario: Scenario, run: ScenarioRun) -> dict[str, Any]:
    """Run ``scenario`` once on ``run.shape``; return its result entry for the record.

    Raises:
        ChaosError: the scenario could not run (topic, target, final read);
            faults are rolled back and consumers stopped first.
    """
    topic = f"{run.settings.topic_prefix}delivery.{run.key.replace('@', '.')}.{run.run_id}"
    work = run.work_dir or run.settings.path("state_dir") / "chaos" / run.run_id
    work.mkdir(parents=True, exist_ok=True)
    started_at = time.time()
    create_topic(run.settings, topic, run.shape)
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
            consumers[group] = _consumer_process(run, topic, group, outs[group])
            consumers[group].start()
        max_messages = int(run.timing.rate * run.timing.max_seconds)
        thread = producer.run_in_thread(run.timing.rate, max_messages, run.timing.max_seconds)
        _start_progress(run, producer, progress_stop)
        local = local_targets(run.settings)
        faults_undone_at = time.monotonic()  # moved on by each fault's undo
        if not run.stop.wait(run.timing.warmup):
            for fault in scenario.faults:
                if fault.role == "broker":
                    target = _broker_target(run, topic, local)
                else:
                    group = fault.role.split(":", 1)[1]
                    target = ProcessTarget(consumers[group])
                require_running(target)
                seconds = fault_seconds(fault, run.timing)
                run.say(f"[{run.key}] fault {fault.kind} on {target.name} for {seconds:g} s")
                record = faults.run(fault.kind, target, seconds)
                faults_undone_at = time.monotonic()
                state = "rolled back" if record.rolled_back else "NOT rolled back: "
                run.say(
                    f"[{run.key}] fault {fault.kind} on {target.name} {state}"
                    + "; ".join(record.problems)
                )
                if run.stop.is_set() or run.stop.wait(run.timing.gap):
                    break
        producer.stop()
        thread.join(timeout=120)
        if thread.is_alive():
            raise ChaosError(f"[{run.key}] the producer did not finish within 120 s of stopping")
        if producer.error is not None:
            raise ChaosError(f"[{run.key}] producer failed: {producer.error}") from producer.error
        settled = _wait_groups(run, topic, scenario.groups)
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
        warnings_path = _warnings_file(path)
        if warnings_path.exists():
            consumer_warnings[group] = warnings_path.read_text(errors="replace").splitlines()
    result = check({producer.ledger.producer_id: producer.ledger}, log, groups)
    bounds = bounds_for(scenario, run.shape, run.unsafe)
    failures = judge(result, bounds, faults.all_rolled_back())
    stalls = [producer_stall(producer, faults_undone_at, result)]
    # The same instant on the wall clock, to compare with the deliveries files' times.
    faults_undone_wall = time.time() - (time.monotonic() - faults_undone_at)
    stalls += consumer_stalls(result, outs, faults_undone_wall, consumer_warnings)
    failures += [s for s in stalls if s]
    if run.stop.is_set():
        failures.append("interrupted")
    if not settled:
        failures.append("a consumer group did not commit the end of the log in time")
    _publish(run, result, not failures)
    delete_topic(run.settings, topic)
    entry = {
        "passed": not failures,
        "cluster": run.shape,
        "topic": topic,
        "duration_seconds": round(time.time() - started_at, 3),
        **{k: v for k, v in result.to_dict().items() if k != "groups"},
        "groups": {g: dataclasses.asdict(r) for g, r in result.groups.items()},
        "bounds": bounds,
        "failures": failures,
        "client_stalled": any(stalls),
        "client_warnings": producer.client_warnings,
        "consumer_warnings": consumer_warnings,
        "faults": [r.to_dict() for r in faults.records],
    }
    return entry


def producer_stall(producer: VerifiableProducer, faults_undone_at: float, r: CheckResult) -> str:
    """Why the run proves nothing, when the producer client itself stopped.

    A stall is: sends after the faults were undone, and not one ack since,
    while the broker answered (the final read of the log succeeded). That is
    the client's doing, not the broker's, and the message says so instead of a
    bare "acked N of M". Empty when there was no stall.
    """
    last = producer.last_ack_at
    if r.acked >= r.sent or (last is not None and last >= faults_undone_at):
        return ""
    return _stall(
        f"producer client stalled: no ack after the faults were undone, {r.sent - r.acked} "
        "sends without one",
        known_cause(producer.client_warnings, "client_warnings"),
    )


def consumer_stalls(
    r: CheckResult,
    deliveries: dict[str, Path],
    faults_undone_wall: float,
    warnings: dict[str, list[str]],
) -> list[str]:
    """The groups whose consumer client stopped: the consumer side of producer_stall.

    A stall is: messages missing for the group, and not one delivery recorded
    since the faults were undone (the deliveries file was last written
    before), while the broker answered the final read. One message per such
    group; none when there was no stall.
    """
    out = []
    for group, g in r.groups.items():
        path = deliveries.get(group)
        if g.missing == 0 or path is None:
            continue
        last_write = path.stat().st_mtime if path.exists() else None
        if last_write is not None and last_write >= faults_undone_wall:
            continue  # it delivered after the undo: judged as a delivery failure
        out.append(
            _stall(
                f"consumer client stalled: group {group} recorded no delivery after the "
                f"faults were undone, {g.missing} missing",
                known_cause(warnings.get(group, []), f"consumer_warnings[{group!r}]"),
            )
        )
    return out


def _stall(what: str, why: str) -> str:
    """One failure line for a client stall: what stopped, then why it proves nothing."""
    return (
        f"{what}, while the broker served the final read; {why}. "
        "The run proves nothing about the broker"
    )


def _publish(run: ScenarioRun, r: CheckResult, passed: bool) -> None:
    for name in LOG_ANOMALIES:
        run.metrics.inc(run.key, run.shape, name, getattr(r, name))
    run.metrics.inc(run.key, run.shape, "sent", r.sent)
    for group, g in r.groups.items():
        for name in ("delivered", "redeliveries", *GROUP_ANOMALIES):
            run.metrics.inc_group(run.key, run.shape, group, name, getattr(g, name))
    run.metrics.passed(run.key, run.shape, passed)


def _wait_groups(run: ScenarioRun, topic: str, groups: tuple[str, ...]) -> bool:
    """Wait (bounded) until every group committed the end of every partition."""
    ends = end_offsets(run.settings, topic)
    deadline = time.monotonic() + run.timing.settle
    pending = set(groups)
    while pending and time.monotonic() < deadline and not run.stop.is_set():
        for group in list(pending):
            try:
                done = committed(run.settings, f"kafkaval-{run.run_id}-{run.key}-{group}", topic)
            except KafkaException:
                continue  # coordinator moving after a fault: ask again
            if all(done.get(p, -1) >= end for p, end in ends.items() if end > 0):
                pending.discard(group)
        if pending:
            run.stop.wait(0.5)
    return not pending


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
