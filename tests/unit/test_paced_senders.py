"""The delivery producer and the CDC change driver follow the shared intended-time
schedule (kafkaval.pacing): at a given rate each send is due at start + i / rate,
bounded in count and time. Fake clients and a fake clock at the boundary."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from test_pacing import FakeClock  # the fake clock of the schedule's own tests

from cdc import changes
from cdc.changes import ChangeDriver, Ledger
from cdc.config import load_cdc_config
from chaos.verifiable_producer import VerifiableProducer


def _producer(clock: FakeClock) -> tuple[VerifiableProducer, list[float]]:
    sent: list[float] = []

    class FakeClient:
        def __init__(self, _config: dict[str, Any]) -> None:
            pass

        def produce(self, topic: str, value: bytes, key: str, on_delivery: Any) -> None:
            sent.append(clock.now)

        def poll(self, timeout: float) -> int:
            clock.sleep(timeout)  # waits until the timeout: no reports here
            return 0

        def flush(self, _timeout: float) -> int:
            return 0

        def __len__(self) -> int:
            return 0

        def close(self) -> None:
            pass

    return VerifiableProducer("p0", "t", {"acks": "all"}, producer_factory=FakeClient), sent


@pytest.mark.parametrize(
    ("max_messages", "max_seconds", "expected"),
    [(30, 60.0, 30), (1000, 2.0, 40)],  # the count bound, then the time bound (2 s at 20/s)
)
def test_the_delivery_producer_sends_on_schedule(
    max_messages: int, max_seconds: float, expected: int
) -> None:
    clock = FakeClock()
    producer, sent = _producer(clock)
    ledger = producer.run(20.0, max_messages, max_seconds, flush_timeout=0.0, clock=clock)
    assert len(ledger) == expected
    assert sent == pytest.approx([100.0 + i / 20.0 for i in range(expected)])


class FakeEvent:
    """The driver's stop event on the fake clock: a wait advances it."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.flag = clock, False

    def wait(self, seconds: float) -> bool:
        self.clock.sleep(seconds)
        return self.flag

    def is_set(self) -> bool:
        return self.flag

    def set(self) -> None:
        self.flag = True


class FakeConnection:
    """Answers each statement with (id, version, txid); None once: a row found gone."""

    def __init__(self, gone_at: int | None = None) -> None:
        self.calls = 0
        self.gone_at = gone_at

    def execute(self, _sql: str, _params: tuple[object, ...]) -> FakeConnection:
        self.calls += 1
        return self

    def fetchone(self) -> tuple[int, int, int] | None:
        return None if self.calls == self.gone_at else (self.calls, 1, 100 + self.calls)


def _driver(monkeypatch: pytest.MonkeyPatch, conn: FakeConnection) -> tuple[ChangeDriver, Ledger]:
    @contextlib.contextmanager
    def connect(_cfg: Any) -> Iterator[FakeConnection]:
        yield conn

    monkeypatch.setattr(changes.postgres, "connect", connect)
    clock = FakeClock()
    ledger = Ledger()
    driver = ChangeDriver(load_cdc_config(environ={}), ledger, clock=clock, wall=lambda: 0.0)
    driver.stop_event = FakeEvent(clock)  # type: ignore[assignment]
    return driver, ledger


@pytest.mark.parametrize(
    ("max_changes", "max_seconds", "expected"),
    [(25, 60.0, 25), (1000, 2.0, 80)],  # the count bound, then the time bound (2 s at 40/s)
)
def test_the_change_driver_commits_on_schedule(
    monkeypatch: pytest.MonkeyPatch, max_changes: int, max_seconds: float, expected: int
) -> None:
    driver, ledger = _driver(monkeypatch, FakeConnection())
    assert driver.run(40.0, max_changes, max_seconds, "kill") == expected
    committed = [c.committed_mono for c in ledger.changes()]
    assert committed == pytest.approx([100.0 + i / 40.0 for i in range(expected)])
    assert {c.phase for c in ledger.changes()} == {"kill"}


def test_a_change_on_a_row_found_gone_is_replaced_in_the_same_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = FakeConnection(gone_at=3)
    driver, ledger = _driver(monkeypatch, conn)
    assert driver.run(10.0, 5, 60.0) == 5
    assert conn.calls == 6  # the third statement changed nothing; the next took its slot
    committed = [c.committed_mono for c in ledger.changes()]
    assert committed == pytest.approx([100.0, 100.1, 100.2, 100.3, 100.4])
