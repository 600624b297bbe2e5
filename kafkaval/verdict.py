"""One vocabulary for pass/fail verdicts: a ``Check`` and its one console line.

A check is one rule judged on one run: its name, the limit, what was
measured, whether it passed and why not. Thresholds of a performance
profile (loadgen/results.py), a delivery scenario's bounds (chaos/bounds.py)
and the CDC change check (cdc/change_checker.py) all judge into it, and every
console line that shows a check is ``format_check``'s.

Fail closed: a check whose figure was not measured (``measured is None``)
never counts as passed, whatever the caller said.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from kafkaval.record_types import ThresholdOutcome

NOT_MEASURED = "not measured"


@dataclasses.dataclass(frozen=True)
class Check:
    """One rule judged on one run.

    Attributes:
        name: the check's name (a threshold's name, a bound, a CDC failure class).
        limit: what the measured figure is held to; None where the rule has no number.
        measured: the figure found; None: not measured, and then never passed.
        passed: whether the rule held.
        reason: why it failed (or how it was judged), one line; empty when
            the figures say it all.
        expr: the rule as written (``p99(e2e) < 50ms``); empty when the name says it.
    """

    name: str
    limit: float | None
    measured: float | None
    passed: bool
    reason: str = ""
    expr: str = ""

    def __post_init__(self) -> None:
        # Fail closed: a rule the run did not measure has not held.
        if self.measured is None:
            object.__setattr__(self, "passed", False)
            if not self.reason:
                object.__setattr__(self, "reason", NOT_MEASURED)

    def to_record(self) -> ThresholdOutcome:
        """The run record's entry of a check: ``{expr, limit, value, passed[, reason]}``.

        The shape of a performance profile's ``thresholds`` and of ``aborted``
        (the record schema, JUnit and the reports read it); the name is the key.
        """
        out: ThresholdOutcome = {
            "expr": self.expr,
            "limit": self.limit,
            "value": self.measured,
            "passed": self.passed,
        }
        if self.reason:
            out["reason"] = self.reason
        return out

    @classmethod
    def from_record(cls, name: str, entry: Mapping[str, Any]) -> Check:
        """The check of a run record entry written by ``to_record`` (``name`` is its key)."""
        return cls(
            name,
            entry.get("limit"),
            entry.get("value"),
            bool(entry.get("passed")),
            entry.get("reason", ""),
            entry.get("expr", ""),
        )


def at_most(name: str, measured: float | None, limit: float, why: str) -> Check:
    """The check ``measured <= limit``; ``why`` is its reason when it does not hold."""
    held = measured is not None and measured <= limit
    return Check(name, limit, measured, held, "" if held else why)


def failure(reason: str, name: str = "") -> Check:
    """A failed check known only by its text (a run record's ``failures`` line)."""
    return Check(name, None, None, False, reason)


def all_passed(checks: Iterable[Check]) -> bool:
    """Whether every check passed (no checks: passed); not measured counts as failed."""
    return all(c.passed for c in checks)  # a Check not measured is never passed


def failed(checks: Iterable[Check]) -> list[Check]:
    """The checks that did not pass, in the order given."""
    return [c for c in checks if not c.passed]


def failure_lines(checks: Iterable[Check]) -> list[str]:
    """One line per failed check, for a record's ``failures`` list: its reason,
    or its console line when it has none."""
    return [c.reason or format_check(c) for c in failed(checks)]


def _figure(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_check(check: Check) -> str:
    """The console line of a check: ``FAIL name (expr): measured 3, limit 0 (reason)``.

    Parts that are not there are left out: a check known only by its text is
    ``FAIL: reason``.
    """
    head = "PASS" if check.passed else "FAIL"
    if check.name:
        head += f" {check.name}"
        if check.expr and check.expr != check.name:
            head += f" ({check.expr})"
    body = ", ".join(
        f"{label} {_figure(v)}"
        for label, v in (("measured", check.measured), ("limit", check.limit))
        if v is not None
    )
    if check.reason:
        body = f"{body} ({check.reason})" if body else check.reason
    return f"{head}: {body}" if body else head
