"""Fault bookkeeping and rollback, with a fake target at the boundary."""

from __future__ import annotations

import threading

import pytest

from chaos.errors import ChaosError
from chaos.faults import FaultRunner
from chaos.targets import Target
from kafkaval.errors import KafkavalError, UsageError


class FakeTarget(Target):
    """Keeps state in memory; can be told to fail its undo."""

    kind = "fake"

    def __init__(self, name: str = "t1", heal_fails: bool = False) -> None:
        self.name = name
        self.running, self.paused, self.cut = True, False, False
        self.heal_fails = heal_fails
        self.calls: list[str] = []

    def kill(self) -> None:
        self.calls.append("kill")
        self.running = False

    def stop(self, timeout: float = 30.0) -> None:
        self.calls.append("stop")
        self.running = False

    def start(self) -> None:
        self.calls.append("start")
        self.running = True

    def pause(self) -> None:
        self.calls.append("pause")
        self.paused = True

    def resume(self) -> None:
        self.calls.append("resume")
        self.paused = False

    def partition(self) -> None:
        self.calls.append("partition")
        self.cut = True

    def heal(self) -> None:
        self.calls.append("heal")
        if self.heal_fails:
            raise ChaosError("iptables -D failed")
        self.cut = False

    def is_running(self) -> bool:
        return self.running

    def is_paused(self) -> bool:
        return self.paused

    def is_partitioned(self) -> bool:
        return self.cut

    def is_healthy(self) -> bool:
        return self.running and not self.paused and not self.cut


def runner(**kw) -> tuple[FaultRunner, list[tuple[str, str, bool]]]:
    changes: list[tuple[str, str, bool]] = []
    fr = FaultRunner(on_change=lambda k, t, a: changes.append((k, t, a)), restore_timeout=0, **kw)
    return fr, changes


@pytest.mark.parametrize(
    ("kind", "calls"),
    [
        ("kill", ["kill", "start"]),
        ("restart", ["stop", "start"]),
        ("pause", ["pause", "resume"]),
        ("partition", ["partition", "heal"]),
    ],
)
def test_each_fault_is_applied_then_undone(kind: str, calls: list[str]) -> None:
    fr, changes = runner()
    target = FakeTarget()
    record = fr.run(kind, target, 0.01)
    assert target.calls == calls
    assert record.rolled_back and record.problems == []
    assert record.kind == kind and record.target == "t1"
    assert record.started_at <= record.ended_at
    assert changes == [(kind, "t1", True), (kind, "t1", False)]
    assert fr.all_rolled_back()


def test_rollback_runs_when_the_block_raises() -> None:
    fr, changes = runner()
    target = FakeTarget()
    with pytest.raises(RuntimeError), fr.active("partition", target, 5):
        assert target.cut
        raise RuntimeError("boom")
    assert not target.cut and fr.records[0].rolled_back
    assert changes[-1] == ("partition", "t1", False)


def test_rollback_runs_on_keyboard_interrupt() -> None:
    fr, _ = runner()
    target = FakeTarget()
    with pytest.raises(KeyboardInterrupt), fr.active("pause", target, 5):
        raise KeyboardInterrupt
    assert not target.paused and fr.records[0].rolled_back


def test_failed_undo_is_recorded_not_hidden() -> None:
    fr, changes = runner()
    target = FakeTarget(heal_fails=True)
    record = fr.run("partition", target, 0.01)
    assert not record.rolled_back
    assert any("undo failed" in p for p in record.problems)
    assert any("partition rules" in p for p in record.problems)
    assert not fr.all_rolled_back()
    assert changes[-1][2] is False  # the gauge still drops: the fault window ended


def test_stop_event_ends_the_hold_early() -> None:
    stop = threading.Event()
    fr, _ = runner(stop=stop)
    stop.set()
    record = fr.run("partition", FakeTarget(), 60)
    assert record.held_seconds < 5 and record.rolled_back


@pytest.mark.parametrize(("kind", "seconds"), [("kill", 0), ("kill", -1), ("kill", 1e6), ("x", 1)])
def test_bad_faults_are_refused_before_touching(kind: str, seconds: float) -> None:
    fr, changes = runner()
    target = FakeTarget()
    with pytest.raises(UsageError):
        fr.run(kind, target, seconds)
    assert target.calls == [] and changes == [] and fr.records == []


class FlappingTarget(FakeTarget):
    """Healthy, unhealthy, then healthy for good: stale metadata after a heal."""

    def __init__(self, pattern: list[bool]) -> None:
        super().__init__()
        self.pattern = pattern

    def is_healthy(self) -> bool:
        return self.pattern.pop(0) if self.pattern else True


def test_wait_healthy_needs_stable_health() -> None:
    now = [0.0]

    def clock() -> float:
        return now[0]

    def sleep(seconds: float) -> None:
        now[0] += 1.0  # one probe per fake second

    target = FlappingTarget([True, False, True])
    assert target.wait_healthy(60, clock=clock, stable=3.0, sleep=sleep)
    # healthy at t=0, not at t=1, healthy from t=2 on: stable 3 s reached at t=5
    assert now[0] == 5.0
    never = FlappingTarget([True, False] * 100)
    now[0] = 0.0
    assert not never.wait_healthy(20, clock=clock, stable=3.0, sleep=sleep)


class StartFails(FakeTarget):
    """A broker whose restart fails with a non-chaos error (e.g. the JVM cannot start)."""

    def start(self) -> None:
        self.calls.append("start")
        raise KafkavalError("cannot start broker-2 (java): No such file or directory")


def test_any_failed_undo_is_verified_recorded_and_stops_further_faults() -> None:
    fr, changes = runner()
    target = StartFails("broker-2")
    record = fr.run("kill", target, 0.01)
    assert not record.rolled_back
    assert any("undo failed: cannot start broker-2" in p for p in record.problems)
    assert "broker-2 is not running" in record.problems  # verified after the failed undo
    assert fr.left_broken and "broker-2 is not running" in fr.left_broken[0]
    other = FakeTarget("t2")
    with pytest.raises(ChaosError, match="no further faults.*kill on broker-2"):
        fr.run("pause", other, 0.01)
    assert other.calls == [] and len(fr.records) == 1
    assert changes[-1] == ("kill", "broker-2", False)


def test_a_verification_that_raises_is_a_problem_not_a_crash() -> None:
    class Unverifiable(FakeTarget):
        def is_healthy(self) -> bool:
            raise OSError("engine socket gone")

    fr, _ = runner()
    record = fr.run("pause", Unverifiable(), 0.01)
    assert not record.rolled_back
    assert any("verification failed: OSError: engine socket gone" in p for p in record.problems)


class Probe:
    def __init__(self, effect: dict | None = None, fails: bool = False) -> None:
        self.effect, self.fails = effect, fails
        self.calls: list[tuple[str, float]] = []

    def start(self) -> None:
        self.calls.append(("start", 0))

    def finish(self, timeout: float) -> dict | None:
        self.calls.append(("finish", timeout))
        if self.fails:
            raise ChaosError("metadata unreadable")
        return self.effect


def test_the_effect_probe_watches_around_the_fault_and_its_finding_is_recorded() -> None:
    fr, _ = runner(effect_timeout=7.0)
    target = FakeTarget()
    seen = {"what": "broker 1 left", "when": "t", "how": "metadata"}
    probe = Probe(seen)
    record = fr.run("kill", target, 0.01, probe)
    assert record.observed_effect == seen and record.to_dict()["observed_effect"] == seen
    assert probe.calls == [("start", 0), ("finish", 7.0)]
    assert target.calls == ["kill", "start"]
    none = fr.run("kill", FakeTarget(), 0.01, Probe(None))
    assert none.observed_effect is None and none.rolled_back


def test_a_failing_probe_means_no_observed_effect() -> None:
    fr, _ = runner()
    record = fr.run("kill", FakeTarget(), 0.01, Probe(fails=True))
    assert record.observed_effect is None
    assert any("effect probe failed: metadata unreadable" in p for p in record.problems)
