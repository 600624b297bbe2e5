"""Waiting on a connector's state through Connect's REST API, on a fake clock:
the timeout paths give up at the deadline without sleeping for real."""

from __future__ import annotations

from typing import Any

import pytest

from cdc import connect
from cdc.errors import CdcError


class _Clock:
    """Monotonic time that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class _Rest:
    """Connect's REST API at the boundary: a connector stuck in one state."""

    url = "http://connect.invalid"

    def __init__(self, connector: str, task: str) -> None:
        self.connector, self.task = connector, task
        self.polls = 0

    def status(self, name: str) -> dict[str, Any]:
        self.polls += 1
        return {"connector": {"state": self.connector}, "tasks": [{"id": 0, "state": self.task}]}


def test_a_connector_never_running_times_out_naming_its_states() -> None:
    clock, rest = _Clock(), _Rest("RUNNING", "UNASSIGNED")
    with pytest.raises(CdcError, match="not RUNNING within 5 s") as e:
        connect.wait_running(rest, "inventory", 5.0, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert "['RUNNING', 'UNASSIGNED']" in str(e.value)
    # Polled every 0.5 s of the fake clock up to the deadline, then given up.
    assert clock.now == pytest.approx(5.0) and rest.polls == len(clock.slept) + 1


def test_a_connector_never_stopped_times_out() -> None:
    clock, rest = _Clock(), _Rest("RUNNING", "RUNNING")
    with pytest.raises(CdcError, match="did not stop within 3 s"):
        connect.wait_stopped(rest, "inventory", 3.0, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert clock.now >= 3.0 and rest.polls == len(clock.slept) + 1
