"""The five benchmarks of the reference plan, their QUICK sizes and thresholds.

Each is a workload file in ``loadgen/workloads/`` (see workload_file.py).
Full sizes are the plan's; QUICK keeps the same phases and code path with
durations and counts scaled down so the whole suite (with stack start) ends in
about three minutes on a 2-core machine. Thresholds default to the plan's;
their limits can be overridden per run (``--threshold NAME=VALUE``) and more
added (``--threshold 'p99(e2e) < 50ms'``).
"""

from __future__ import annotations

from kafkaval.errors import UsageError
from kafkaval.pacing import Phase
from loadgen.workload_file import KIB, ProfileSpec, seed_workloads

__all__ = ["KIB", "MAX_RATE", "PROFILES", "ProfileSpec", "resolve", "scaled_phases"]

PROFILES: dict[str, ProfileSpec] = {p.name: p for p in seed_workloads()}


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
