"""JUnit XML from run records, so any CI system shows each check natively.

One ``<testsuite>`` per run; one ``<testcase>`` per performance profile and
per threshold, or per delivery scenario and per bound. A failed threshold or
bound carries the measured value and the limit; a run that broke before its
record was written is one ``<error>`` case. Files are written atomically.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, overload

from kafkaval.errors import KafkavalError, UsageError
from kafkaval.files import write_atomic
from kafkaval.record_types import (
    AbortedThreshold,
    DeliveryRecord,
    PerformanceRecord,
    RecordHeader,
    ScenarioEntry,
    is_performance,
)
from kafkaval.records import parse_iso
from kafkaval.redact import redact_text


@dataclasses.dataclass(frozen=True)
class Case:
    """One testcase: ``failure`` (a check failed) or ``error`` (it could not run)."""

    classname: str
    name: str
    seconds: float = 0.0
    failure: str | None = None
    error: str | None = None
    detail: str = ""


def _seconds(entry: Mapping[str, Any]) -> float:
    try:
        return max(
            0.0, (parse_iso(entry["ended_at"]) - parse_iso(entry["started_at"])).total_seconds()
        )
    except (KeyError, TypeError, ValueError):
        return 0.0


def _num(v: Any) -> str:
    return "not measured" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def _run_case(
    record: PerformanceRecord | DeliveryRecord, kind: str, aborted: AbortedThreshold | None = None
) -> Case:
    """The whole run: fails when it was interrupted or ``aborted`` (a performance run's)."""
    if aborted:
        return Case(
            kind,
            "run",
            _seconds(record),
            failure=f"aborted: threshold {aborted['threshold']} ({aborted['expr']}) lost in "
            f"{aborted['profile']}: measured {_num(aborted['value'])}, limit "
            f"{_num(aborted['limit'])}",
        )
    if record.get("interrupted"):
        return Case(kind, "run", _seconds(record), failure="interrupted before the end")
    return Case(kind, "run", _seconds(record))


def performance_cases(record: PerformanceRecord) -> list[Case]:
    """A case per profile (failing with the names of its failed thresholds) and per threshold."""
    cases = [_run_case(record, "performance", record.get("aborted"))]
    for name, p in (record.get("profiles") or {}).items():
        cls = f"performance.{name}"
        checks = p.get("thresholds") or {}
        lost = [k for k, c in checks.items() if not c.get("passed")]
        cases.append(
            Case(
                cls,
                "profile",
                _seconds(p),
                failure=f"failed thresholds: {', '.join(lost)}" if not p.get("passed") else None,
                detail=(p.get("parameters") or {}).get("description", ""),
            )
        )
        for key, c in checks.items():
            expr = c.get("expr", key)
            measured = f"measured {_num(c.get('value'))}, limit {_num(c.get('limit'))}"
            failure = None
            if not c.get("passed"):
                failure = f"{expr}: {measured}" + (f" ({c['reason']})" if c.get("reason") else "")
            cases.append(
                Case(cls, f"threshold {key}", failure=failure, detail=f"{expr}: {measured}")
            )
    return cases


# Bounds on a per-group count: (bound name, the group's count it caps).
_PER_GROUP = "_per_group"  # a bound per consumer group (chaos/checker.py group_bound)


def _bound_checks(e: ScenarioEntry) -> list[tuple[str, str, object, object, bool]]:
    """(case name, rule, measured, limit, held) for each bound of a scenario entry,
    as the delivery checker applies them (chaos/bounds.py ``judge``)."""
    bounds = e.get("bounds") or {}
    out: list[tuple[str, str, object, object, bool]] = []
    for name, bound in bounds.items():
        if name == "min_acked_fraction":
            sent, acked = e.get("sent"), e.get("acked")
            frac = acked / sent if isinstance(sent, int) and sent and acked is not None else None
            held = frac is not None and frac >= bound
            out.append((name, f"acked / sent >= {bound:g}", frac, bound, held))
        elif name == "faults_rolled_back":
            if bound:
                faults = e.get("faults") or []
                left = sum(not f.get("rolled_back") for f in faults)
                out.append((name, "faults not rolled back == 0", left, 0, left == 0))
        elif name.endswith(_PER_GROUP):
            field = name.removesuffix(_PER_GROUP)
            for group, g in (e.get("groups") or {}).items():
                # One number for every group or a mapping group -> number; an
                # unstated group's bound is 0, as the checker takes it.
                limit = (bound.get(group) if isinstance(bound, Mapping) else bound) or 0
                value = g.get(field)
                held = isinstance(value, int) and value <= limit
                out.append((f"{name} {group}", f"{field} <= {limit}", value, limit, held))
        elif isinstance(bound, int | float) and not isinstance(bound, bool):
            value = e.get(name)
            held = isinstance(value, int | float) and value <= bound
            out.append((name, f"{name} <= {bound:g}", value, bound, held))
    return out


def delivery_cases(record: DeliveryRecord) -> list[Case]:
    """A case per scenario (failing with its failures) and per bound the checker applied."""
    cases = [_run_case(record, "delivery")]
    for key, e in (record.get("scenarios") or {}).items():
        cls = f"delivery.{key}"
        failures = e.get("failures") or []
        failure = None if e.get("passed") else ("; ".join(failures) or "failed")
        cases.append(Case(cls, "scenario", float(e.get("duration_seconds") or 0.0), failure))
        for name, rule, value, limit, held in _bound_checks(e):
            measured = f"{rule}: measured {_num(value)}, limit {_num(limit)}"
            cases.append(
                Case(cls, f"bound {name}", failure=None if held else measured, detail=measured)
            )
    return cases


def error_case(kind: str, message: str) -> Case:
    """The case of a run that broke before it could judge anything."""
    return Case(kind, "run", error=message)


def render(suite: str, cases: Iterable[Case], properties: Mapping[str, str] | None = None) -> str:
    """The JUnit XML text of one testsuite."""
    cases = list(cases)
    failures = sum(c.failure is not None for c in cases)
    errors = sum(c.error is not None for c in cases)
    total = f"{sum(c.seconds for c in cases):.3f}"
    root = ET.Element(
        "testsuites",
        name="kafkaval",
        tests=str(len(cases)),
        failures=str(failures),
        errors=str(errors),
        time=total,
    )
    ts = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(cases)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=total,
    )
    if properties:
        props = ET.SubElement(ts, "properties")
        for k, v in properties.items():
            ET.SubElement(props, "property", name=k, value=str(v))
    for c in cases:
        tc = ET.SubElement(
            ts, "testcase", classname=c.classname, name=c.name, time=f"{c.seconds:.3f}"
        )
        if c.failure is not None:
            ET.SubElement(tc, "failure", message=c.failure, type="check").text = (
                c.detail or c.failure
            )
        elif c.error is not None:
            ET.SubElement(tc, "error", message=c.error, type="error").text = c.error
        elif c.detail:
            ET.SubElement(tc, "system-out").text = c.detail
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def record_properties(record: RecordHeader) -> dict[str, str]:
    """Run id, window and tags of a record, as testsuite properties."""
    props = {k: str(record[k]) for k in ("run_id", "started_at", "ended_at") if record.get(k)}
    for k, v in (record.get("tags") or {}).items():
        props[f"tag.{k}"] = str(v)
    return props


def write_junit(
    path: str | Path, suite: str, cases: Iterable[Case], properties: Mapping[str, str] | None = None
) -> Path:
    """Write the XML atomically.

    Raises:
        KafkavalError: the file cannot be written.
    """
    try:
        return write_atomic(path, render(suite, cases, properties))
    except OSError as e:
        raise KafkavalError(f"cannot write JUnit XML to {path}: {e.strerror}; fix --junit") from e


@overload
def run_with_junit(
    path: str | None,
    kind: Literal["performance"],
    run: Callable[[], PerformanceRecord],
    secrets: Iterable[str] = (),
) -> PerformanceRecord: ...
@overload
def run_with_junit(
    path: str | None,
    kind: Literal["delivery"],
    run: Callable[[], DeliveryRecord],
    secrets: Iterable[str] = (),
) -> DeliveryRecord: ...
def run_with_junit(
    path: str | None,
    kind: Literal["performance", "delivery"],
    run: Callable[[], PerformanceRecord] | Callable[[], DeliveryRecord],
    secrets: Iterable[str] = (),
) -> PerformanceRecord | DeliveryRecord:
    """``run()`` (a suite returning its record), then its JUnit XML at ``path``.

    A run that breaks with a runtime error still leaves a JUnit file with that
    error as its one case (``secrets``, the settings' secret values, redacted
    from it); a usage error writes none (nothing ran).

    Raises:
        whatever ``run`` raises; KafkavalError: the XML cannot be written.
    """
    suite = f"kafkaval.{kind}"
    try:
        record = run()
    except UsageError:
        raise
    except KafkavalError as e:
        if path:
            write_junit(path, suite, [error_case(kind, redact_text(str(e), secrets))])
        raise
    if path:
        cases = performance_cases(record) if is_performance(record) else delivery_cases(record)
        write_junit(path, suite, cases, record_properties(record))
    return record
