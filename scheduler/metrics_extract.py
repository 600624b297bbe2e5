"""Pull the compared metrics out of run records, one sample per repetition.

Compared (names are ``<suite>.<profile or scenario>.<metric>``):

* ``performance.<max-rate profile>.achieved_rate`` (higher is better): the
  snapshot profile and any profile run at max rate; a fixed-rate profile
  achieves its target by design, so its rate says nothing;
* ``performance.<profile>.{service,response,e2e}_{p50,p95,p99}_seconds``; the
  median is the steadiest of them on a shared machine, the tails the most telling;
* ``performance.startup.startup_seconds``;
* ``performance.<profile>.broker_cpu_peak`` / ``broker_memory_peak_bytes`` when
  the record carries them (the exporter's numbers);
* the cost of the work (``loadgen/cost.py``), which a busy neighbour moves
  far less than wall-clock figures: ``broker_cpu_seconds_per_1k_messages``,
  ``broker_cpu_seconds_per_mib``, ``loadgen_cpu_seconds_per_message``,
  ``broker_disk_bytes_per_message``, ``broker_gc_seconds``, and the robust
  tail ``service_p99_windowed_seconds`` (median of the 10-s windows' p99s);
* ``delivery.<scenario>.lost`` and any performance ``lost``: must be 0, a
  regression without statistics.

A record keeps every repetition (``REPEAT=N``). The records are typed
(``SuiteRecord``: performance or delivery), their samples read as any
mapping: accepted shapes, so the extractor follows the suites rather than the
other way round: a profile with ``"repetitions": [{...}, ...]`` (each like a
profile), a record with ``"repetitions": [{"profiles": {...}}, ...]`` (not
in ``PerformanceRecord``), or a plain profile (one sample).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from kafkaval.record_types import PerformanceRecord, SuiteRecord, is_delivery, is_performance
from kafkaval.records import figure
from scheduler.verdict_terms import HIGHER_IS_BETTER, LOWER_IS_BETTER, MUST_BE_ZERO

LATENCIES = ("service", "response", "e2e")
PERCENTILES = ("p50", "p95", "p99")
MAX_RATE_PROFILES = ("snapshot",)
# Lower is better for each; (name in the record, unit).
COST_KEYS = (
    ("broker_cpu_seconds_per_1k_messages", "s"),
    ("broker_cpu_seconds_per_mib", "s"),
    ("loadgen_cpu_seconds_per_message", "s"),
    ("broker_disk_bytes_per_message", "bytes"),
    ("broker_gc_seconds", "s"),
    ("service_p99_windowed_seconds", "s"),
)
# Resource peaks a record may carry per profile, under "resources" or flat.
RESOURCE_KEYS = {
    "broker_cpu_peak": ("broker_cpu_peak", "broker_cpu_peak_cores", "broker_cpu_peak_ratio"),
    "broker_memory_peak_bytes": (
        "broker_memory_peak_bytes",
        "broker_mem_peak_bytes",
        "broker_rss_bytes",
    ),
}


_Record = TypeVar("_Record", bound=Mapping[str, Any])


@dataclasses.dataclass
class Samples:
    """Every sample of one metric, pooled over records and repetitions."""

    direction: str
    unit: str
    values: list[float] = dataclasses.field(default_factory=list)


def extract(records: Iterable[SuiteRecord]) -> dict[str, Samples]:
    """Compared metrics of ``records`` (performance and delivery kinds; others ignored)."""
    out: dict[str, Samples] = {}
    for record in records:
        if is_performance(record):
            for profile, sample in _performance_samples(record):
                for name, direction, unit, value in _profile_metrics(profile, sample):
                    _add(out, f"performance.{profile}.{name}", direction, unit, value)
        elif is_delivery(record):
            for scenario, result in (record.get("scenarios") or {}).items():
                if isinstance(result, Mapping) and figure(result.get("lost")) is not None:
                    _add(
                        out,
                        f"delivery.{scenario}.lost",
                        MUST_BE_ZERO,
                        "messages",
                        float(result["lost"]),
                    )
    return out


def _add(out: dict[str, Samples], name: str, direction: str, unit: str, value: float) -> None:
    out.setdefault(name, Samples(direction, unit)).values.append(value)


def _performance_samples(record: PerformanceRecord) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(profile name, one repetition's results) for every repetition in the record."""
    shapes: Mapping[str, Any] = record  # the record-level repetitions are no record field
    reps = shapes.get("repetitions")
    if isinstance(reps, list) and reps:
        for rep in reps:
            for name, prof in ((rep or {}).get("profiles") or {}).items():
                if isinstance(prof, Mapping):
                    yield name, prof
        return
    for name, prof in (record.get("profiles") or {}).items():
        if not isinstance(prof, Mapping):
            continue
        inner = prof.get("repetitions")
        if isinstance(inner, list) and inner:
            for rep in inner:
                if isinstance(rep, Mapping):
                    # a repetition may omit fields that do not vary (target_rate)
                    yield name, {**prof, **rep}
        else:
            yield name, prof


def _profile_metrics(
    profile: str, sample: Mapping[str, Any]
) -> Iterator[tuple[str, str, str, float]]:
    if _is_max_rate(profile, sample):
        rate = figure(sample.get("achieved_rate"))
        if rate is not None:
            yield "achieved_rate", HIGHER_IS_BETTER, "msg/s", rate
    for lat in LATENCIES:
        pcts = sample.get(f"{lat}_latency_seconds")
        if not isinstance(pcts, Mapping):
            continue
        for p in PERCENTILES:
            value = figure(pcts.get(p))
            if value is not None:
                yield f"{lat}_{p}_seconds", LOWER_IS_BETTER, "s", value
    startup = figure(sample.get("startup_seconds"))
    if startup is not None:
        yield "startup_seconds", LOWER_IS_BETTER, "s", startup
    resources = sample.get("resources") if isinstance(sample.get("resources"), Mapping) else {}
    for name, keys in RESOURCE_KEYS.items():
        for key in keys:
            value = figure(sample.get(key, resources.get(key)))  # type: ignore[union-attr]
            if value is not None:
                yield name, LOWER_IS_BETTER, "bytes" if "bytes" in name else "cores", value
                break
    for name, unit in COST_KEYS:
        value = figure(sample.get(name))
        if value is not None:
            yield name, LOWER_IS_BETTER, unit, value
    lost = figure(sample.get("lost"))
    if lost is not None:
        yield "lost", MUST_BE_ZERO, "messages", lost


def _is_max_rate(profile: str, sample: Mapping[str, Any]) -> bool:
    target = sample.get("target_rate")
    return profile in MAX_RATE_PROFILES or target in (None, 0, "max") and "achieved_rate" in sample


def run_medians(record: SuiteRecord) -> dict[str, float]:
    """One run's median per compared metric (over its repetitions)."""
    return {name: statistics.median(s.values) for name, s in extract([record]).items() if s.values}


def run_series(
    records: Sequence[SuiteRecord],
) -> list[tuple[str, str, list[float | None], list[str]]]:
    """Each compared metric's history: (metric, direction, per-run medians, run ids).

    Oldest first as given; None where a run lacks the metric. The input of
    the change-point verdict (``scheduler/changepoints.py``).
    """
    medians = [run_medians(r) for r in records]
    directions = {name: s.direction for name, s in extract(records).items()}
    run_ids = [str(r.get("run_id", "?")) for r in records]
    return [
        (name, directions[name], [m.get(name) for m in medians], run_ids)
        for name in sorted(directions)
    ]


def same_kind_as_newest(records: Sequence[_Record]) -> list[_Record]:
    """The records of the newest one's kind (QUICK or full): their figures differ.

    A QUICK run snapshots 20,000 messages, a full one 895,000: pooled or in
    one series, their difference would pass for noise or for a step.
    """
    if not records:
        return []
    quick = bool(records[-1].get("quick"))
    return [r for r in records if bool(r.get("quick")) == quick]
