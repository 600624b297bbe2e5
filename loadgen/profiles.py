"""The five benchmarks of the reference plan, their QUICK sizes and thresholds.

Full sizes are the plan's; QUICK keeps the same phases and code path with
durations and counts scaled down so the whole suite (with stack start) ends in
about three minutes on a 2-core machine. Thresholds default to the plan's
and can be overridden per run (``--threshold NAME=VALUE``).
"""

from __future__ import annotations

import dataclasses

from kafkaval.errors import UsageError
from loadgen.pacing import Phase

KIB = 1024


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Pass/fail limits; None disables a check for the profile."""

    min_rate_ratio: float | None = 0.99  # achieved / target rate
    max_p95_service_seconds: float | None = 0.100
    max_failed: int | None = 0
    consumed_equals_acked: bool = True
    max_startup_seconds: float | None = None
    # The plan's "under 2 GB memory"; judged where the broker's memory is measured.
    max_broker_memory_bytes: int | None = 2 * 1024**3


@dataclasses.dataclass(frozen=True)
class ProfileSpec:
    """One benchmark.

    ``measured`` is the index of the phase whose rate is the target (burst has
    a slow phase before and after the burst to measure recovery).
    """

    name: str
    description: str
    phases: tuple[Phase, ...]
    quick_phases: tuple[Phase, ...]
    record_size: int = 5 * KIB
    measured: int = 0
    thresholds: Thresholds = Thresholds()
    kind: str = "load"  # "load" or "startup"


PROFILES: dict[str, ProfileSpec] = {
    p.name: p
    for p in (
        ProfileSpec(
            "throughput",
            "1000 msg/s for 60 s, 5 KiB records, acks=all",
            (Phase(60_000, 1000.0),),
            (Phase(8_000, 1000.0),),
        ),
        ProfileSpec(
            "burst",
            "5000 msg/s for 30 s between 10 s at 500 msg/s; reports recovery time",
            (Phase(5_000, 500.0), Phase(150_000, 5000.0), Phase(5_000, 500.0)),
            (Phase(1_500, 500.0), Phase(20_000, 5000.0), Phase(2_500, 500.0)),
            measured=1,
        ),
        ProfileSpec(
            "sustained",
            "500 msg/s for 5 min; reports drift of p99 and of process memory",
            (Phase(150_000, 500.0),),
            (Phase(7_500, 500.0),),
        ),
        ProfileSpec(
            "snapshot",
            "895,000 messages as fast as the broker takes them (Debezium initial snapshot)",
            (Phase(895_000, None),),
            (Phase(20_000, None),),
            # Max rate fills the client queue on purpose: service time then is
            # queueing time, so the latency and rate limits do not apply.
            thresholds=Thresholds(min_rate_ratio=None, max_p95_service_seconds=None),
        ),
        ProfileSpec(
            "startup",
            "cold broker process start until it answers metadata and acks a produce",
            (),
            (),
            thresholds=Thresholds(
                min_rate_ratio=None,
                max_p95_service_seconds=None,
                max_startup_seconds=10.0,
                max_broker_memory_bytes=2 * 1024**3,
            ),
            kind="startup",
        ),
    )
}


def resolve(names: list[str] | None) -> list[ProfileSpec]:
    """The profiles to run, in plan order.

    Raises:
        UsageError: an unknown profile name.
    """
    if not names:
        return list(PROFILES.values())
    unknown = [n for n in names if n not in PROFILES]
    if unknown:
        raise UsageError(f"unknown profile {unknown[0]!r}; choose from {', '.join(PROFILES)}")
    return [p for p in PROFILES.values() if p.name in names]


MAX_RATE = "max"  # --rate max: the measured phase as fast as the broker takes it


def scaled_phases(
    spec: ProfileSpec,
    quick: bool,
    rate: float | str | None = None,
    messages: int | None = None,
    duration: float | None = None,
) -> tuple[Phase, ...]:
    """The profile's phases, QUICK-sized, with the measured phase's rate or size overridden.

    Overriding the rate scales every rated phase by the same factor and keeps
    the phase durations (``"max"``: the measured phase unpaced); overriding
    the count sets the measured phase's count, overriding the duration sets
    its count to rate x duration.

    Raises:
        UsageError: a duration for a phase without a fixed rate.
    """
    phases = list(spec.quick_phases if quick else spec.phases)
    if rate == MAX_RATE and phases:
        phases[spec.measured] = Phase(phases[spec.measured].count, None)
    elif isinstance(rate, int | float) and phases:
        base = phases[spec.measured].rate
        if base is None:
            phases[spec.measured] = Phase(phases[spec.measured].count, rate)
        else:
            factor = rate / base
            phases = [
                p if p.rate is None else Phase(max(1, round(p.count * factor)), p.rate * factor)
                for p in phases
            ]
    if messages is not None and phases:
        phases[spec.measured] = Phase(messages, phases[spec.measured].rate)
    if duration is not None and phases:
        measured = phases[spec.measured]
        if measured.rate is None:
            raise UsageError(
                f"--duration needs a fixed rate, and {spec.name} runs at max rate: "
                "use --messages, or give --rate"
            )
        phases[spec.measured] = Phase(max(1, round(measured.rate * duration)), measured.rate)
    return tuple(phases)


def parse_threshold_overrides(items: list[str]) -> dict[str, float]:
    """``NAME=VALUE`` pairs for Thresholds fields.

    Raises:
        UsageError: unknown name or a value that is not a number.
    """
    fields = {f.name for f in dataclasses.fields(Thresholds)} - {"consumed_equals_acked"}
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in fields:
            raise UsageError(f"unknown threshold {name!r}; known: {', '.join(sorted(fields))}")
        try:
            out[name] = float(value)
        except ValueError:
            raise UsageError(f"threshold {name} needs a number, not {value!r}") from None
    return out
