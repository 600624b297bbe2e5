"""The intended-time schedule, driven by a fake clock."""

from __future__ import annotations

import numpy as np
import pytest

from kafkaval.pacing import Phase, paced
from loadgen.recorder import ProducerRecorder


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _simulate(phases, service_s: float, stall_at: int | None = None, stall_s: float = 0.0):
    """Send through paced() with a fake broker acking after ``service_s``."""
    clock = FakeClock()
    n = sum(p.count for p in phases)
    rec = ProducerRecorder(n, ["t"])
    for i, due in paced(phases, clock, clock.sleep):
        if i == stall_at:
            clock.sleep(stall_s)  # the sender stalls (GC pause, full queue) before sending
        sent = clock()
        rec.on_sent(i, round(due * 1e9), round(sent * 1e9))
        rec.on_acked(i, round((sent + service_s) * 1e9))
    rec.scan()
    return clock, rec


def test_rate_is_exact_without_stalls() -> None:
    clock, rec = _simulate([Phase(1000, 500.0)], service_s=0.002)
    intended, sent, _ = rec.arrays()
    gaps = np.diff(sent) / 1e6
    assert gaps == pytest.approx(np.full(999, 1 / 500.0), abs=1e-6)
    # 1000 messages at 500/s: the last is due 999/500 s after the first.
    assert (sent[-1] - sent[0]) / 1e6 == pytest.approx(999 / 500.0, abs=1e-6)
    assert (sent == intended).all()


def test_stall_shows_in_response_time_not_in_service_time() -> None:
    rate, stall = 1000.0, 0.050
    _, rec = _simulate([Phase(500, rate)], service_s=0.002, stall_at=100, stall_s=stall)
    service = np.frombuffer(rec.service_done, dtype=np.int64)
    response = np.frombuffer(rec.response_done, dtype=np.int64)
    delay = np.frombuffer(rec.send_delay_done, dtype=np.int64)
    assert (service == 2000).all()  # service time never sees the stall
    # Message 100 waited the whole stall; the overdue ones after it go out at
    # once, each 1 ms less late, until the schedule is caught up at 150.
    expected_delay = np.zeros(500, dtype=np.int64)
    expected_delay[100:150] = 50_000 - np.arange(50) * 1000
    assert delay.tolist() == expected_delay.tolist()
    assert (response == service + expected_delay).all()
    assert response.max() == 52_000


def test_phases_continue_the_schedule() -> None:
    clock, rec = _simulate([Phase(10, 100.0), Phase(20, 1000.0)], 0.001)
    intended, sent, _ = rec.arrays()
    assert (intended[10] - intended[0]) == 100_000  # 10 messages at 100/s
    assert (intended[29] - intended[10]) == 19_000


def test_running_flag_stops_early() -> None:
    clock = FakeClock()
    seen = []
    for i, _due in paced([Phase(100, 10.0)], clock, clock.sleep, running=lambda: len(seen) < 7):
        seen.append(i)
    assert seen == list(range(7))


@pytest.mark.parametrize("rate", [None, 0.0])
def test_a_phase_without_a_positive_rate_is_refused(rate) -> None:
    with pytest.raises(ValueError, match="rate must be > 0"):
        list(paced([Phase(3, rate)], FakeClock(), FakeClock().sleep))


def test_deadline_ends_the_schedule_without_waiting_past_it() -> None:
    clock = FakeClock()
    due = [d for _i, d in paced([Phase(100, 10.0)], clock, clock.sleep, deadline=100.45)]
    # Due at 0, 0.1 .. 0.4 s: the one due at 0.5 s is past the deadline and not waited for.
    assert due == pytest.approx([100.0, 100.1, 100.2, 100.3, 100.4])
    assert clock.now == pytest.approx(100.4)


def test_a_sender_behind_schedule_stops_at_the_deadline() -> None:
    clock = FakeClock()
    sent = []
    for i, _due in paced([Phase(100, 10.0)], clock, clock.sleep, deadline=101.0):
        sent.append(i)
        if i == 2:
            clock.sleep(5.0)  # a stall past the deadline: the overdue ones are not sent
    assert sent == [0, 1, 2]


def test_a_stop_while_waiting_sends_nothing_more() -> None:
    clock = FakeClock()
    stopped = []

    def wait(seconds: float) -> None:
        clock.sleep(seconds / 2)  # returns early, as poll() or Event.wait do
        stopped.append(True)

    sent = [i for i, _ in paced([Phase(10, 1.0)], clock, wait, running=lambda: not stopped)]
    assert sent == [0] and clock.now == pytest.approx(100.5)
