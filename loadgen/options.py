"""What ``perf run`` was asked to do: the options, and the profiles, workloads and
thresholds they resolve to.

``SuiteOptions.validate`` refuses what cannot run; ``resolve_profiles`` and
``build_workload`` turn the options and the profile catalogue (or workload
files) into what the run executes; ``profile_thresholds`` and
``check_thresholds`` merge and check the run's threshold limits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from kafkaval.config import Settings
from kafkaval.errors import UsageError
from loadgen import profiles as prof
from loadgen import results
from loadgen.distributed import ENGINES
from loadgen.payloads import PAYLOAD_KINDS
from loadgen.threshold_expr import LATENCY_STATS
from loadgen.thresholds import Threshold
from loadgen.workload import Workload, default_topics
from loadgen.workload_file import load_workload

MAX_WORKERS = 16


@dataclasses.dataclass
class SuiteOptions:
    """What ``perf run`` was asked to do (validated by ``validate``)."""

    quick: bool = False
    repeat: int = 1
    profiles: list[str] | None = None
    rate: float | str | None = None  # msg/s, or "max"
    record_size: int | None = None
    messages: int | None = None
    duration: float | None = None  # seconds of the measured phase (count = rate x duration)
    # None for key space, payload, partitions: the profile's, else 100000, "cdc", 3.
    key_space: int | None = None  # primary keys drawn uniformly from 1..key_space
    workers: int = 1
    keep_topics: bool = False
    payload: str | None = None
    partitions: int | None = None
    replication_factor: int | None = None
    topic_prefix: str | None = None
    thresholds: dict[str, float] = dataclasses.field(default_factory=dict)  # NAME=VALUE limits
    # Threshold expressions added to every profile whose kind records their figures.
    threshold_exprs: list[Threshold] = dataclasses.field(default_factory=list)
    workload_files: list[str] = dataclasses.field(default_factory=list)
    # Stop the run once a threshold is lost for good (k6's abortOnFail).
    abort_on_fail: bool = False
    # --tag key=value (kafkaval.tags): in the record and on every metric of the run.
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    producer_props: dict[str, str] = dataclasses.field(default_factory=dict)
    progress: bool | None = None  # None: live line on a TTY, a line per second otherwise
    need_prometheus: bool = True
    linger: bool = True
    consume: bool = True  # False: no run consumer (a producer-only benchmark)
    engine: str = "local"  # where the workers run: local processes, or loadgen.distributed
    engine_prefix: str = "kafkaval-worker"  # engine-side names (Swarm service) start with it
    # --engine external: starts the workers given (run id, N, args, env); None prints how.
    engine_start: Callable[[str, int, list[str], dict[str, str]], None] | None = None

    def validate(self) -> None:
        """Raises UsageError for options that cannot run."""
        if self.repeat < 1:
            raise UsageError(f"--repeat must be >= 1, not {self.repeat}")
        if isinstance(self.rate, str) and self.rate != prof.MAX_RATE:
            raise UsageError(f"--rate must be a number > 0 or 'max', not {self.rate!r}")
        if isinstance(self.rate, int | float) and not self.rate > 0:
            raise UsageError(f"--rate must be > 0 msg/s, not {self.rate:g}")
        if self.messages is not None and self.duration is not None:
            raise UsageError("give --messages or --duration, not both")
        if self.duration is not None and not self.duration > 0:
            raise UsageError(f"--duration must be > 0 seconds, not {self.duration:g}")
        if self.key_space is not None and self.key_space < 1:
            raise UsageError(f"--key-space must be >= 1, not {self.key_space}")
        if self.record_size is not None and self.record_size <= 0:
            raise UsageError(f"--record-size must be > 0 bytes, not {self.record_size}")
        if self.messages is not None and self.messages <= 0:
            raise UsageError(f"--messages must be > 0, not {self.messages}")
        # Worker i serves metrics_port + i: 16 keeps them clear of the stack
        # exporter (+17), the delivery runner (+90) and the scheduler (+95).
        if not 1 <= self.workers <= MAX_WORKERS:
            raise UsageError(f"--workers must be 1..{MAX_WORKERS}, not {self.workers}")
        if self.engine not in ENGINES:
            raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.payload is not None and self.payload not in PAYLOAD_KINDS:
            raise UsageError(f"--payload must be one of {', '.join(PAYLOAD_KINDS)}")
        if self.partitions is not None and self.partitions < 1:
            raise UsageError(f"--partitions must be >= 1, not {self.partitions}")


def build_workload(spec: prof.ProfileSpec, opts: SuiteOptions, settings: Settings) -> Workload:
    """The Workload of a load profile: the run's options over the profile's file.

    Raises:
        UsageError: the combination cannot run (e.g. records too small for the payload).
    """
    prefix = settings.topic_prefix if opts.topic_prefix is None else opts.topic_prefix
    wl = Workload(
        name=spec.name,
        topics=spec.topics or tuple(default_topics(prefix)),
        phases=prof.scaled_phases(spec, opts.quick, opts.rate, opts.messages, opts.duration),
        key_space=opts.key_space or spec.key_space or 100_000,
        record_size=opts.record_size or spec.record_size,
        # --record-size gives every record that size.
        record_sizes=() if opts.record_size else spec.record_sizes,
        payload=opts.payload or spec.payload or "cdc",
        partitions=opts.partitions or spec.partitions or 3,
        replication_factor=opts.replication_factor
        or spec.replication_factor
        or (3 if settings.brokers >= 3 else 1),
        producer_props=spec.producer,
        consumer_props=spec.consumer,
        consume=opts.consume,
    )
    wl.validate()
    return wl


def resolve_profiles(opts: SuiteOptions) -> list[prof.ProfileSpec]:
    """The seed profiles asked for (all without --profile and --workload), then the files.

    Raises:
        UsageError: an unknown profile, a bad workload file, or two profiles of one name.
    """
    specs = prof.resolve(opts.profiles) if opts.profiles or not opts.workload_files else []
    for path in opts.workload_files:
        spec = load_workload(path)
        if any(s.name == spec.name for s in specs):
            raise UsageError(
                f"workload {path}: a profile named {spec.name!r} is already in this run; "
                "rename it (name = ...)"
            )
        specs.append(spec)
    return specs


# Figures that mean nothing at max rate: no target, and service time is queueing time.
_PACED_FIGURES = {"target_rate", *(f"service_latency_seconds.{q}" for q in LATENCY_STATS)}


def profile_thresholds(spec: prof.ProfileSpec, opts: SuiteOptions) -> dict[str, Threshold]:
    """The profile's thresholds with the run's limits and expressions."""
    base = dict(spec.thresholds)
    if opts.rate == prof.MAX_RATE:
        # Unpaced, the client queue fills on purpose (as for snapshot).
        base = {n: t for n, t in base.items() if not t.figures & _PACED_FIGURES}
    out = results.thresholds_with(base, opts.thresholds)
    for t in opts.threshold_exprs:
        if t.applies_to(spec.kind):
            out[t.name] = t
    return out


def check_thresholds(specs: list[prof.ProfileSpec], opts: SuiteOptions) -> None:
    """Raises UsageError for a NAME=VALUE limit no profile has, or an expression
    on figures no profile of this run records."""
    for t in opts.threshold_exprs:
        if specs and not any(t.applies_to(s.kind) for s in specs):
            kinds = ", ".join(sorted({s.kind for s in specs}))
            raise UsageError(
                f"threshold {t.expr!r} uses a figure no profile of this run records "
                f"(their kinds: {kinds}); drop it or add a profile that has it"
            )
    known = {n for s in [*prof.PROFILES.values(), *specs] for n in s.thresholds}
    for name in opts.thresholds:
        if name not in known:
            raise UsageError(
                f"unknown threshold {name!r}; known: {', '.join(sorted(known))} "
                "(or give an expression such as 'p99(e2e) < 50ms')"
            )
