"""Safety, partition rules, metrics and CLI input checks of chaos (no network)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from chaos.bounds import bounds_for, judge
from chaos.catalog import SCENARIOS
from chaos.checker import CheckResult
from chaos.errors import ChaosError, TargetNotAllowed
from chaos.metrics import DeliveryMetrics
from chaos.netpartition import ProcessPartitioner
from chaos.safety import allowed_by_config, resolve_target
from kafkaval.cli import main
from kafkaval.config import Settings


def test_stack_process_is_allowed_and_others_refused() -> None:
    settings = Settings()
    local = {"broker-1": object()}
    assert resolve_target(settings, "broker-1", local) is local["broker-1"]  # type: ignore[arg-type]
    with pytest.raises(TargetNotAllowed, match="not allowed.*broker-1"):
        resolve_target(settings, "postgres", local)  # type: ignore[arg-type]


def test_configured_container_needs_a_backend() -> None:
    settings = dataclasses.replace(Settings(), chaos_targets=["kafka-1", "role=broker"])
    with pytest.raises(ChaosError, match="no Docker backend"):
        resolve_target(settings, "kafka-1", {})
    assert resolve_target(settings, "kafka-1", {}, container=lambda n: n) == "kafka-1"  # type: ignore[arg-type,return-value]
    assert allowed_by_config(settings, "anything", {"role": "broker"})
    assert not allowed_by_config(settings, "anything", {"role": "consumer"})


@pytest.fixture(autouse=True)
def plain_dir_cgroups(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tmp dir stands in for cgroupfs, where rmdir succeeds despite cgroup.procs."""
    import pathlib
    import shutil

    monkeypatch.setattr(pathlib.Path, "rmdir", lambda self: shutil.rmtree(self))


class FakeIptables:
    def __init__(self) -> None:
        self.rules: list[str] = ["-A INPUT -p tcp --dport 22 -j ACCEPT"]

    def __call__(self, args: Sequence[str]) -> str:
        args = list(args)
        if args[0] == "-S":
            return "".join(f"{r}\n" for r in self.rules if r.split()[1] == args[1])
        line = " ".join(args[1:])
        if args[0] == "-A":
            self.rules.append("-A " + line)
        elif args[0] == "-D":
            self.rules.remove("-A " + line)
        return ""


def test_partition_rules_are_tagged_and_healed_exactly(tmp_path) -> None:
    (tmp_path / "cgroup.procs").write_text("")
    fake = FakeIptables()
    ports = set(range(40000, 40020))  # more than one multiport rule's worth
    part = ProcessPartitioner("broker-2", [39293, 39393], run=fake, cgroup_root=tmp_path,
                              socket_ports=lambda pid: ports)  # fmt: skip
    other = ProcessPartitioner("broker-2", [49293], run=fake, cgroup_root=tmp_path)
    part.partition(4242)
    assert (tmp_path / part.tag / "cgroup.procs").read_text().strip() == "4242"
    assert len(part.active_rules()) == 3  # cgroup OUTPUT + 2 multiport INPUT chunks
    assert other.active_rules() == []  # same name, another stack: not ours
    part.heal(4242)
    assert part.active_rules() == []
    assert fake.rules == ["-A INPUT -p tcp --dport 22 -j ACCEPT"]
    assert not (tmp_path / part.tag).exists()


def test_partition_failure_removes_what_was_added(tmp_path) -> None:
    fake = FakeIptables()
    calls = {"n": 0}

    def flaky(args: Sequence[str]) -> str:
        if args[0] == "-A":
            calls["n"] += 1
            if calls["n"] == 2:
                raise ChaosError("iptables failed")
        return fake(args)

    part = ProcessPartitioner(
        "b", [1], run=flaky, cgroup_root=tmp_path, socket_ports=lambda p: set()
    )
    with pytest.raises(ChaosError):
        part.partition(1)
    assert part.active_rules() == [] and not (tmp_path / part.tag).exists()


def test_bounds_fail_on_any_excess() -> None:
    sc = SCENARIOS["broker-restart"]
    bounds = bounds_for(sc, {"g1": 0})
    ok = CheckResult(sent=100, acked=100)
    assert judge(ok, bounds, True) == []
    assert judge(dataclasses.replace(ok, lost=1), bounds, True) == ["lost 1 > 0"]
    assert bounds["why"]["min_acked_fraction"]  # stated with its reason
    assert judge(ok, bounds, False) == ["a fault was not rolled back (results not trusted)"]
    assert judge(CheckResult(), bounds, True) == ["acked 0 of 0 sent"]


def test_metrics_collector_exposes_counters_and_fault_gauge() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    m = DeliveryMetrics()
    reg = CollectorRegistry()
    reg.register(m)
    m.inc("broker-restart", "single", "acked", 3)
    m.inc_group("broker-restart", "single", "g1", "redeliveries", 2)
    m.fault("broker-restart", "kill", "broker-1", True)
    text = generate_latest(reg).decode()
    assert 'kafkaval_delivery_acked_total{cluster="single",scenario="broker-restart"} 3.0' in text
    assert 'kafkaval_delivery_group_redeliveries_total{cluster="single",group="g1",' in text
    assert (
        'kafkaval_chaos_fault_active{kind="kill",scenario="broker-restart",target="broker-1"} 1.0'
        in text
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["delivery", "run", "--scenario", "nope"],
        ["delivery", "run", "--fault-seconds", "0"],
        ["delivery", "run", "--cluster", "five"],
        ["delivery", "plan", "--fault-seconds", "-3"],
    ],
)
def test_bad_input_is_one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_dry_run_prints_the_plan_and_touches_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["delivery", "run", "--dry-run", "--quick", "--scenario", "broker-restart"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "kill" in out and "restart" in out and "1 s" in out
    assert list(tmp_path.iterdir()) == []  # no results, no state


def test_target_not_allowed_is_refused_before_anything_starts(
    capsys: pytest.CaptureFixture[str], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["delivery", "run", "--quick", "--target", "someone-elses-db"])
    err = capsys.readouterr().err
    assert code == 2
    assert "someone-elses-db" in err and "not allowed" in err and "chaos_targets" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "results").exists()  # refused before any run record


def test_a_client_that_gets_no_ack_after_the_faults_is_named_a_stall() -> None:
    from chaos.bounds import producer_stall
    from chaos.client_log import LEADER_LOST_SIGNATURE
    from chaos.verifiable_producer import VerifiableProducer

    made: list[dict] = []

    class FakeClient:
        def __init__(self, config: dict) -> None:
            made.append(config)

        def produce(self, topic, value, key, on_delivery) -> None:
            self.report = on_delivery

        def poll(self, _timeout: float) -> int:
            return 0

    producer = VerifiableProducer("p0", "t", {"acks": "all"}, producer_factory=FakeClient)
    client = made[0]["logger"]  # what librdkafka's log lines go to
    client.warning("METADATAUPDATE [rdkafka#producer-1]: Partition t[1]: " + LEADER_LOST_SIGNATURE)
    client.info("a debug line is not kept")
    assert producer.client_warnings == [
        "METADATAUPDATE [rdkafka#producer-1]: Partition t[1]: " + LEADER_LOST_SIGNATURE
    ]
    fake = producer._producer
    producer.send_one()
    fake.report(None, type("Msg", (), {"partition": lambda s: 0, "offset": lambda s: 7})())
    acked_at = producer.last_ack_at
    assert acked_at is not None
    stalled = CheckResult(sent=10, acked=1)
    stall = producer_stall(producer, acked_at + 5, stalled)  # faults undone 5 s after the ack
    assert stall is not None and stall.client_bug
    assert stall.line.startswith("producer client stalled") and "librdkafka#5430" in stall.line
    assert producer_stall(producer, acked_at - 5, stalled) is None  # an ack came after the undo
    assert producer_stall(producer, acked_at + 5, CheckResult(sent=10, acked=10)) is None
    # Stopped, but its log does not show the stall: no client stall, and still a failure.
    producer.client_warnings.clear()
    unexplained = producer_stall(producer, acked_at + 5, stalled)
    assert unexplained is not None and not unexplained.client_bug
    assert unexplained.line.startswith("producer got no ack after the faults were undone, 9 sends")
    assert "no known client bug" in unexplained.line


def test_a_group_that_records_nothing_after_the_faults_is_named_a_consumer_stall(
    tmp_path,
) -> None:
    import os
    import time

    from chaos.bounds import consumer_stalls
    from chaos.checker import GroupResult
    from chaos.client_log import LEADER_LOST_SIGNATURE

    undone = time.time()
    stopped, going, whole = (tmp_path / f"{g}.deliveries" for g in ("g1", "g2", "g3"))
    for path in (stopped, going, whole):
        path.write_text("0 1 p0:1\n")
    os.utime(stopped, (undone - 10, undone - 10))  # its last delivery: before the undo
    r = CheckResult(sent=100, acked=100)
    r.groups = {
        "g1": GroupResult(delivered=40, missing=60),
        "g2": GroupResult(delivered=90, missing=10),  # delivered after the undo: not a stall
        "g3": GroupResult(delivered=100),
    }
    outs = {"g1": stopped, "g2": going, "g3": whole}
    warnings = {"g1": ["FETCH [rdkafka#consumer-1]: t[0]: " + LEADER_LOST_SIGNATURE]}
    stalls = consumer_stalls(r, outs, undone, warnings)
    assert len(stalls) == 1 and stalls[0].client_bug
    line = stalls[0].line
    assert line.startswith("consumer client stalled: group g1") and "60 missing" in line
    assert "librdkafka#5430" in line
    # Stopped, but its log does not show the stall: no stall, its missing stand.
    assert consumer_stalls(r, outs, undone, {}) == []
    assert consumer_stalls(r, outs, undone, {"g1": ["FAIL [rdkafka#consumer-1]: refused"]}) == []
    stopped.unlink()  # never delivered anything: a stall too
    assert len(consumer_stalls(r, outs, undone, warnings)) == 1


def test_the_verifiable_consumer_keeps_its_client_warnings_in_a_file(tmp_path) -> None:
    from chaos.client_log import LEADER_LOST_SIGNATURE, MAX_CLIENT_WARNINGS
    from chaos.verifiable_consumer import consumer_config

    path = tmp_path / "g1.client-warnings"
    config = consumer_config("127.0.0.1:9", "g1", {}, str(path))
    # librdkafka writes the signature line only with its debug context on.
    assert config["debug"] == "metadata"
    logger = config["logger"]
    logger.warning("FAIL [rdkafka#consumer-1]: line\nwith a break")
    logger.info("not kept")
    logger.debug("METADATA [rdkafka#consumer-1]: Topic t [0] Leader 2 Epoch 0")  # not kept
    logger.warning("FAIL [rdkafka#consumer-1]: line\nwith a break")  # a repeat
    for i in range(2 * MAX_CLIENT_WARNINGS):
        logger.error("ERROR %d", i)
    # A debug line, past the bound: kept, it names the stall.
    logger.debug("METADATA: t[0]: " + LEADER_LOST_SIGNATURE)
    lines = path.read_text().splitlines()
    assert lines[0] == "FAIL [rdkafka#consumer-1]: line with a break"
    assert lines[1] == "ERROR 0"
    assert len(lines) == MAX_CLIENT_WARNINGS + 1  # bounded
    assert lines[-1] == "METADATA: t[0]: " + LEADER_LOST_SIGNATURE
    assert "logger" in consumer_config("127.0.0.1:9", "g1", {})  # silent without a file


def test_sends_left_after_the_final_flush_stay_indeterminate_and_are_dropped() -> None:
    import time

    from chaos.ledger import FAILED, INDETERMINATE
    from chaos.verifiable_producer import VerifiableProducer

    config = {"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": "60000", "log_level": "0"}
    producer = VerifiableProducer("p0", "t", config)
    t0 = time.monotonic()
    ledger = producer.run(rate=200, max_messages=20, max_seconds=5, flush_timeout=0.3)
    # The client is closed at once (not after its 60 s message timeout), and
    # the purged sends count as indeterminate: one in flight may be appended.
    assert time.monotonic() - t0 < 10
    assert ledger.count(INDETERMINATE) == 20 and ledger.count(FAILED) == 0


def test_client_logging_adds_the_signature_context_to_the_clients_own() -> None:
    from chaos.client_log import PRODUCER_DEBUG_CONTEXTS, SIGNATURE_DEBUG_CONTEXTS, client_logging

    assert client_logging("t", lambda _l: None)["debug"] == SIGNATURE_DEBUG_CONTEXTS
    merged = client_logging("t", lambda _l: None, "broker,metadata")["debug"].split(",")
    assert merged == ["broker", "metadata"]  # the user's contexts kept, none twice
    producer = client_logging("p", lambda _l: None, "eos", PRODUCER_DEBUG_CONTEXTS)["debug"]
    assert producer == "eos,metadata"


def test_log_duplicates_name_the_producers_epoch_bump_only_when_its_log_shows_one() -> None:
    from chaos.client_log import EPOCH_BUMP_SIGNATURE, warnings_logger

    kept: list[str] = []
    logger = warnings_logger("p0", kept.append)
    logger.debug("IDEMPSTATE [rdkafka#producer-1]: Idempotent producer state change")  # dropped
    bump = (
        f"DRAIN [rdkafka#producer-1]: {EPOCH_BUMP_SIGNATURE} PID{{Id:1,Epoch:0}} epoch bump "
        "for 1 partition(s) with in-flight requests: 3 message(s) timed out on t [0]"
    )
    logger.debug(bump)
    assert kept == [bump]  # a debug line, kept: it names the bug
    r = CheckResult(sent=10, acked=10, log_duplicates=2, duplicate_ids=["p0:3"])
    bounds = bounds_for(SCENARIOS["broker-restart"], {"g1": 0})
    (line,) = [f for f in judge(r, bounds, True, kept) if f.startswith("log_duplicates")]
    assert line.startswith("log_duplicates 2 > 0 (p0:3); ") and "librdkafka#4953" in line
    # No bump in the log: the same count, no cause named; nothing over: no line.
    (bare,) = [f for f in judge(r, bounds, True, ["FAIL: refused"]) if "log_dup" in f]
    assert bare == "log_duplicates 2 > 0 (p0:3)"
    assert not [f for f in judge(CheckResult(sent=10, acked=10), bounds, True, kept) if "4953" in f]
