"""The verdict of a delivery scenario: the bounds it must stay within, and the judge.

The bounds (`bounds_for`) are the written expectation: 0 acked lost, 0
failed-but-visible, 0 log duplicates and 0 reorders (idempotent producer),
0 inconsistent offsets, foreign or removed records; per group 0 missing,
unseen, inconsistent offsets, non-monotonic polls, poll skips and unreadable
ledger lines (chaos.checker defines each class), and redeliveries per group
as derived from the run in chaos.redelivery (0 for a group no fault hits).
A client that stalled (`producer_stall`, `consumer_stalls`) is a failure of
its own: the run then proves nothing about the broker. Log duplicates stay a
failure whoever caused them; when the producer's own log shows an idempotent
epoch bump (librdkafka#4953) their line says so (`duplicates_cause`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaos.catalog import Scenario
from chaos.checker import GROUP_ANOMALIES, LOG_ANOMALIES, CheckResult, group_bound, samples
from chaos.client_log import duplicates_cause, known_cause
from kafkaval.verdict import Check, at_most, failure_lines

if TYPE_CHECKING:
    from chaos.verifiable_producer import VerifiableProducer

# The verdict rests on the acked messages: every acked one must be read back.
# With message.timeout.ms (60 s) longer than any fault, nearly every send is
# acked; failed and indeterminate sends are counted and checked separately.
# This floor only refuses a run that acked so little (the cluster unavailable
# most of the time) that "nothing acked was lost" would rest on a fraction of
# what was sent.
MIN_ACKED_FRACTION = 0.5
MIN_ACKED_WHY = (
    "a floor, not a target: with message.timeout.ms 60 s longer than any fault every "
    "send should be acked; below half acked the cluster was unavailable most of the "
    "run and 'no acked message lost' would rest on a fraction of what was sent"
)


def bounds_for(scenario: Scenario, redeliveries: Mapping[str, int]) -> dict[str, Any]:
    """The written expectation of ``scenario``: the maximum of each count.

    The same on both shapes (idempotence is on for both), and never relaxed
    for the unsafe setups of the self-tests: those must fail these bounds.
    ``redeliveries``: each group's bound, derived from the run (chaos.redelivery).
    """
    return {
        "lost": 0,
        "failed_visible": 0,
        "log_duplicates": 0,  # enable.idempotence=true on both shapes
        "reordered": 0,  # idempotence keeps order per partition across retries
        "inconsistent_offsets": 0,
        "foreign": 0,  # the scenario's topic is its own: anything else is a stray writer
        "removed": 0,  # a record the final read cannot see proves nothing either way
        **{f"{name}_per_group": 0 for name in GROUP_ANOMALIES},
        "redeliveries_per_group": {g: redeliveries.get(g, 0) for g in scenario.groups},
        "faults_rolled_back": True,
        "min_acked_fraction": MIN_ACKED_FRACTION,
        "why": {"min_acked_fraction": MIN_ACKED_WHY},
    }


def judge(
    result: CheckResult,
    bounds: dict[str, Any],
    faults_ok: bool,
    producer_log: list[str] | None = None,
) -> list[str]:
    """Every bound ``result`` exceeds, one line each; empty means passed."""
    return failure_lines(bound_checks(result, bounds, faults_ok, producer_log))


def bound_checks(
    result: CheckResult,
    bounds: dict[str, Any],
    faults_ok: bool,
    producer_log: list[str] | None = None,
) -> list[Check]:
    """Every bound of ``bounds`` judged on ``result``, in the order of ``judge``'s lines.

    A failed check's reason is its line in the scenario's ``failures``.
    ``producer_log``: the producer's kept log lines; a log duplicates line
    names the epoch bump they show (`duplicates_cause`).
    """
    checks = []
    dup_cause = duplicates_cause(producer_log or [])

    def over(prefix: str, r: Any, name: str, bound: int) -> None:
        # A bound that is not stated is 0: an unstated anomaly class never passes.
        value = getattr(r, name)
        line = f"{prefix}{name} {value} > {bound}"
        example = ", ".join(samples(r, name)) if value > bound else ""
        if example:
            line = f"{line} ({example})"
        if name == "log_duplicates" and dup_cause and value > bound:
            line = f"{line}; {dup_cause}"
        checks.append(at_most(f"{prefix}{name}", value, bound, line))

    for name in LOG_ANOMALIES:
        over("", result, name, bounds.get(name, 0))
    starts = ", ".join(f"partition {p}: {o}" for p, o in result.log_start_offsets.items())
    # Whatever was there before a log start offset, the final read could not check it.
    removed = f"records removed before the final read (log start offsets {starts})"
    checks.append(at_most("log_start_offsets", len(result.log_start_offsets), 0, removed))
    for group, g in result.groups.items():
        for name in (*GROUP_ANOMALIES, "redeliveries"):
            over(f"group {group} ", g, name, group_bound(bounds, name, group) or 0)
    floor = bounds["min_acked_fraction"]
    short = result.sent == 0 or result.acked < floor * result.sent
    checks.append(
        Check(
            "min_acked_fraction",
            floor,
            result.acked / result.sent if result.sent else None,
            not short,
            f"acked {result.acked} of {result.sent} sent" if short else "",
        )
    )
    checks.append(
        Check(
            "faults_rolled_back",
            True,
            faults_ok,
            faults_ok,
            "" if faults_ok else "a fault was not rolled back (results not trusted)",
        )
    )
    return checks


@dataclasses.dataclass(frozen=True)
class Stall:
    """A client that stopped after the faults were undone.

    ``client_bug``: its own log shows a known client bug's signature, so the
    run proves nothing about the broker (the scenario's ``client_stalled``).
    Without it the stop is unexplained and fails the run as such.
    """

    line: str  # the failure line
    client_bug: bool


def producer_stall(
    producer: VerifiableProducer, faults_undone_at: float, r: CheckResult
) -> Stall | None:
    """The producer's stall when it got no ack after the faults were undone.

    That is: sends after the undo, and not one ack since, while the broker
    answered (the final read of the log succeeded). When the client's own log
    shows the stall's signature (librdkafka#5430) the line names the client
    bug. Without it the stop is unexplained, and it fails the run as such,
    whatever fraction was acked before. None when acks came.
    """
    last = producer.last_ack_at
    if r.acked >= r.sent or (last is not None and last >= faults_undone_at):
        return None
    unacked = r.sent - r.acked
    cause = known_cause(producer.client_warnings)
    if cause is None:
        return Stall(
            f"producer got no ack after the faults were undone, {unacked} sends without one, "
            "while the broker served the final read; no known client bug in its log "
            "(client_warnings)",
            client_bug=False,
        )
    return _stall(
        f"producer client stalled: no ack after the faults were undone, {unacked} "
        "sends without one",
        cause,
    )


def consumer_stalls(
    r: CheckResult,
    deliveries: dict[str, Path],
    faults_undone_wall: float,
    warnings: dict[str, list[str]],
) -> list[Stall]:
    """The groups whose consumer client stopped: the consumer side of producer_stall.

    A stall is: messages missing for the group, not one delivery recorded
    since the faults were undone (the deliveries file was last written
    before), while the broker answered the final read, and the client's own
    log shows the stall's signature (librdkafka#5430). A group that stopped
    receiving without it is no stall: its missing messages stand as they are,
    a failure of delivery. One stall per stalled group; none when there was
    no stall.
    """
    out = []
    for group, g in r.groups.items():
        path = deliveries.get(group)
        if g.missing == 0 or path is None:
            continue
        last_write = path.stat().st_mtime if path.exists() else None
        if last_write is not None and last_write >= faults_undone_wall:
            continue  # it delivered after the undo: judged as a delivery failure
        cause = known_cause(warnings.get(group, []))
        if cause is None:
            continue  # stopped, but nothing shows the client's bug: judged as missing
        out.append(
            _stall(
                f"consumer client stalled: group {group} recorded no delivery after the "
                f"faults were undone, {g.missing} missing",
                cause,
            )
        )
    return out


def _stall(what: str, why: str) -> Stall:
    """A client stall: what stopped, then why it proves nothing."""
    return Stall(
        f"{what}, while the broker served the final read; {why}. "
        "The run proves nothing about the broker",
        client_bug=True,
    )
