"""Did every committed change reach its topic? Counted from the database side.

The ledger holds every committed change (table, id, op, version, txid). An
event matches a change when (table, id, op, version) are equal. Then:

- missing: a committed change with no matching event (always a failure);
- duplicates: matching events beyond the first, counted per phase of the
  ledger and compared with that phase's bound;
- resnapshotted: snapshot reads (op ``r``) in the checked window: the
  connector forgot its position and read the tables again;
- unexpected: change events matching no ledger entry (someone else's writes,
  or changes from before the window); reported, not a failure;
- txid mismatches: an event whose transaction id differs from the ledger's;
- reordered: per row, after dropping second copies, an event whose version is
  lower than one already seen for that row (its change stream went backwards;
  a consumer applying it would end on an older row). Always a failure.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from cdc.changes import Change
from cdc.events import ChangeEvent
from kafkaval.record_types import ChangeCheckResults
from kafkaval.verdict import Check, at_most, failure_lines

SAMPLE = 5  # how many missing changes a result names


@dataclasses.dataclass
class CheckResult:
    committed: int
    delivered: int  # distinct committed changes seen at least once
    missing: int
    duplicates: int
    duplicates_by_phase: dict[str, int]
    bounds: dict[str, int | None]
    resnapshotted: int
    unexpected: int
    txid_mismatches: int
    reordered: int
    missing_sample: list[list[Any]]
    failures: list[str]  # the failed checks' reasons: the record's failures
    checks: list[Check] = dataclasses.field(default_factory=list)  # every check made

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> ChangeCheckResults:
        """The record's shape: every field but ``checks`` (their failures are there), copied."""
        return {
            "committed": self.committed,
            "delivered": self.delivered,
            "missing": self.missing,
            "duplicates": self.duplicates,
            "duplicates_by_phase": dict(self.duplicates_by_phase),
            "bounds": dict(self.bounds),
            "resnapshotted": self.resnapshotted,
            "unexpected": self.unexpected,
            "txid_mismatches": self.txid_mismatches,
            "reordered": self.reordered,
            "missing_sample": [list(s) for s in self.missing_sample],
            "failures": list(self.failures),
            "passed": self.passed,
        }


def check_changes(
    ledger: Iterable[Change],
    events: Iterable[ChangeEvent],
    bounds: Mapping[str, int | None] | None = None,
    allow_resnapshot: bool = False,
) -> CheckResult:
    """Compare the ledger with the change events read back.

    Args:
        ledger: every committed change of the run.
        events: every change event read from the table topics in the run's window.
        bounds: the most duplicates allowed per phase; a phase not listed (or
            None) has no bound.
        allow_resnapshot: snapshot reads in the window are not a failure.
    """
    bounds = dict(bounds or {})
    changes = {c.key: c for c in ledger}
    seen: Counter[tuple[str, int, str, int]] = Counter()
    resnapshotted = unexpected = txid_mismatches = reordered = 0
    # Highest version seen per row: events of one row share a key, so one
    # partition, so their read order is the order the connector wrote them.
    latest: dict[tuple[str, int], int] = {}
    for ev in events:
        if ev.op == "r":
            resnapshotted += 1
            continue
        key = (ev.table, ev.pk, ev.op, ev.version if ev.version is not None else -1)
        change = changes.get(key)
        if change is None:
            unexpected += 1
            continue
        seen[key] += 1
        if seen[key] == 1 and ev.version is not None:  # second copies are duplicates
            row = (ev.table, ev.pk)
            if ev.version < latest.get(row, ev.version):
                reordered += 1
            latest[row] = max(ev.version, latest.get(row, ev.version))
        # PostgreSQL logs 32-bit xids in the WAL; the ledger has the 64-bit form.
        if ev.txid is not None and ev.txid % 2**32 != change.txid % 2**32:
            txid_mismatches += 1
    missing = [c for k, c in changes.items() if k not in seen]
    dup_by_phase: Counter[str] = Counter()
    for key, n in seen.items():
        if n > 1:
            dup_by_phase[changes[key].phase] += n - 1
    why = f"{len(missing)} committed change(s) never reached their topic"
    checks = [at_most("missing", len(missing), 0, why)]
    for phase in sorted({*bounds, *dup_by_phase}):
        bound, n = bounds.get(phase), dup_by_phase.get(phase, 0)
        if bound is not None:
            where = f"in phase {phase or '-'}"
            why = f"{n} duplicate(s) {where} exceed the bound {bound}"
            checks.append(at_most(f"duplicates {where}", n, bound, why))
    if not allow_resnapshot:
        why = f"{resnapshotted} row(s) re-snapshotted: the connector lost its offsets"
        checks.append(at_most("resnapshotted", resnapshotted, 0, why))
    why = f"{txid_mismatches} event(s) carry another transaction id than committed"
    checks.append(at_most("txid_mismatches", txid_mismatches, 0, why))
    why = (
        f"{reordered} change(s) arrived after a later version of the same row "
        "(per-row order of the change stream broken)"
    )
    checks.append(at_most("reordered", reordered, 0, why))
    return CheckResult(
        committed=len(changes),
        delivered=len(seen),
        missing=len(missing),
        duplicates=sum(dup_by_phase.values()),
        duplicates_by_phase={p: dup_by_phase.get(p, 0) for p in {*bounds, *dup_by_phase}},
        bounds=bounds,
        resnapshotted=resnapshotted,
        unexpected=unexpected,
        txid_mismatches=txid_mismatches,
        reordered=reordered,
        missing_sample=[[c.table, c.pk, c.op, c.version] for c in missing[:SAMPLE]],
        failures=failure_lines(checks),
        checks=checks,
    )
