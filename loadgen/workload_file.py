"""Workload files: a profile in TOML, like OpenMessaging Benchmark's workload YAMLs.

The five seed profiles are such files (``loadgen/workloads/*.toml``, shipped
with the package); ``kafkaval perf run --workload FILE`` runs any other. A
file names what to run (phases, record sizes, keys, topics), the Kafka
client properties the workload needs and the thresholds that judge it::

    name = "orders"
    description = "2000 msg/s for 30 s of 1-4 KiB records"
    kind = "load"              # or "startup"
    measured_phase = 0         # the phase whose rate is the target

    [[phases]]                 # count, or duration (s) with a rate
    duration = 30
    rate = 2000                # msg/s; leave out for as fast as possible

    [[quick_phases]]           # --quick sizes (default: the phases)
    count = 4000
    rate = 2000

    [records]
    size = 5120                # bytes; or sizes = [1024, 4096] with weights
    payload = "cdc"            # or "raw"
    key_space = 100000

    [topics]
    names = ["orders.a", "orders.b"]   # default: the CDC-named test topics
    partitions = 3
    replication_factor = 1

    [producer]                 # librdkafka properties, on top of the defaults
    "linger.ms" = 10

    [consumer]
    "fetch.wait.max.ms" = 20

    [thresholds]               # name = expression (loadgen/thresholds.py)
    e2e_p99 = "p99(e2e) < 50ms"
    broker_memory = { expr = "broker_memory < 2GiB", skip_unmeasured = true }
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from kafkaval.errors import UsageError
from kafkaval.pacing import Phase
from loadgen import thresholds as th

TOP_KEYS = (
    "name",
    "description",
    "kind",
    "measured_phase",
    "phases",
    "quick_phases",
    "records",
    "topics",
    "producer",
    "consumer",
    "thresholds",
)
PHASE_KEYS = ("count", "duration", "rate")
RECORD_KEYS = ("size", "sizes", "weights", "payload", "key_space")
TOPIC_KEYS = ("names", "partitions", "replication_factor")
THRESHOLD_KEYS = ("expr", "skip_unmeasured")
KINDS = ("load", "startup")
SEED_PACKAGE = "loadgen.workloads"
KIB = 1024


@dataclasses.dataclass(frozen=True)
class ProfileSpec:
    """One benchmark, as a workload file describes it.

    ``measured`` is the index of the phase whose rate is the target (burst has
    a slow phase before and after the burst to measure recovery). None for
    topics, partitions, replication, key space and payload: the run's
    options (or their defaults) decide.
    """

    name: str
    description: str
    phases: tuple[Phase, ...]
    quick_phases: tuple[Phase, ...]
    record_size: int = 5 * KIB
    # (size, weight) pairs when record sizes vary; record_size is then their mean.
    record_sizes: tuple[tuple[int, float], ...] = ()
    measured: int = 0
    thresholds: Mapping[str, th.Threshold] = dataclasses.field(default_factory=dict)
    kind: str = "load"  # "load" or "startup"
    topics: tuple[str, ...] | None = None
    partitions: int | None = None
    replication_factor: int | None = None
    key_space: int | None = None
    payload: str | None = None
    producer: Mapping[str, str] = dataclasses.field(default_factory=dict)
    consumer: Mapping[str, str] = dataclasses.field(default_factory=dict)


class _Checker:
    """Typed reads from the parsed TOML with one-line errors naming file and key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> UsageError:
        return UsageError(f"workload {self.source}: {key}: {problem}")

    def table(self, data: Any, key: str, allowed: tuple[str, ...] | None) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(key, f"must be a table, not {_type(data)}")
        if allowed is not None:
            for k in data:
                if k not in allowed:
                    raise self.fail(
                        f"{key}.{k}" if key else k,
                        f"unknown key; allowed: {', '.join(allowed)}",
                    )
        return data

    def get(self, data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
        value = data.get(key)
        if value is None:
            return None
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # TOML booleans are not numbers here.
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            wanted = "a number" if float in kinds else _WANTED[kinds[0]]
            raise self.fail(where, f"must be {wanted}, not {_type(value)} {value!r}")
        return value

    def positive_int(self, data: dict[str, Any], key: str, where: str) -> int | None:
        value = self.get(data, key, int, where)
        if value is not None and value < 1:
            raise self.fail(where, f"must be >= 1, not {value}")
        return value


_WANTED = {int: "an integer", str: "a string", bool: "true or false", list: "an array"}


def _type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}.get(
        type(value), "table" if isinstance(value, dict) else type(value).__name__
    )


def _phases(c: _Checker, raw: Any, key: str) -> tuple[Phase, ...]:
    if not isinstance(raw, list):
        raise c.fail(key, f"must be an array of tables ([[{key}]]), not {_type(raw)}")
    phases = []
    for i, item in enumerate(raw):
        where = f"{key}[{i}]"
        t = c.table(item, where, PHASE_KEYS)
        rate = c.get(t, "rate", (int, float), f"{where}.rate")
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise c.fail(f"{where}.rate", f"impossible rate {rate} msg/s: must be > 0")
        count = c.positive_int(t, "count", f"{where}.count")
        duration = c.get(t, "duration", (int, float), f"{where}.duration")
        if (count is None) == (duration is None):
            raise c.fail(where, "give count or duration (seconds, with a rate), one of them")
        if duration is not None:
            if rate is None:
                raise c.fail(f"{where}.duration", "needs a rate; at max rate give a count")
            if not (duration > 0 and math.isfinite(duration)):
                raise c.fail(f"{where}.duration", f"must be > 0 seconds, not {duration}")
            count = max(1, round(rate * duration))
        phases.append(Phase(int(count or 0), None if rate is None else float(rate)))
    return tuple(phases)


def _props(c: _Checker, raw: Any, key: str) -> dict[str, str]:
    t = c.table(raw, key, None)
    out = {}
    for k, v in t.items():
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, int | float | str):
            out[k] = str(v)
        else:
            raise c.fail(f"{key}.{k}", f"must be a string, number or boolean, not {_type(v)}")
    return out


def _thresholds(c: _Checker, raw: Any) -> dict[str, th.Threshold]:
    t = c.table(raw, "thresholds", None)
    out = {}
    for name, v in t.items():
        where = f"thresholds.{name}"
        skip = False
        if isinstance(v, dict):
            c.table(v, where, THRESHOLD_KEYS)
            skip = bool(c.get(v, "skip_unmeasured", bool, f"{where}.skip_unmeasured"))
            v = v.get("expr")
            if v is None:
                raise c.fail(where, "needs expr")
        if not isinstance(v, str):
            raise c.fail(where, f"must be an expression string, not {_type(v)}")
        try:
            out[name] = th.parse(v, name, skip)
        except UsageError as e:
            raise c.fail(where, str(e)) from None
    return out


def _record_sizes(c: _Checker, t: dict[str, Any]) -> tuple[int, tuple[tuple[int, float], ...]]:
    """(mean size, distribution) from ``[records]``; no distribution for one size."""
    size = c.positive_int(t, "size", "records.size")
    sizes = c.get(t, "sizes", list, "records.sizes")
    weights = c.get(t, "weights", list, "records.weights")
    if sizes is None:
        if weights is not None:
            raise c.fail("records.weights", "needs records.sizes")
        return (size or 5 * KIB), ()
    if size is not None:
        raise c.fail("records", "give size or sizes, not both")
    if not sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise c.fail("records.sizes", "must be a non-empty array of byte counts >= 1")
    weights = weights if weights is not None else [1] * len(sizes)
    if len(weights) != len(sizes) or any(
        isinstance(w, bool) or not isinstance(w, int | float) or not w > 0 for w in weights
    ):
        raise c.fail("records.weights", f"must be {len(sizes)} numbers > 0, one per size")
    dist = tuple((int(s), float(w)) for s, w in zip(sizes, weights, strict=True))
    mean = round(sum(s * w for s, w in dist) / sum(w for _, w in dist))
    return mean, dist


def parse_workload(data: Mapping[str, Any], source: str) -> ProfileSpec:
    """A ProfileSpec from parsed TOML.

    Raises:
        UsageError: an unknown key (naming the allowed ones), a wrong type, an
            impossible rate, count or size, or a bad threshold expression.
    """
    c = _Checker(source)
    top = c.table(dict(data), "", TOP_KEYS)
    name = c.get(top, "name", str, "name")
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise c.fail("name", "needed: letters, digits, - and _ (it names topics and metrics)")
    kind = c.get(top, "kind", str, "kind") or "load"
    if kind not in KINDS:
        raise c.fail("kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
    phases = _phases(c, top["phases"], "phases") if "phases" in top else ()
    if kind == "load" and not phases:
        raise c.fail("phases", "a load workload needs at least one [[phases]]")
    quick = _phases(c, top["quick_phases"], "quick_phases") if "quick_phases" in top else phases
    if len(quick) != len(phases):
        raise c.fail("quick_phases", f"needs as many phases as phases ({len(phases)})")
    measured = c.get(top, "measured_phase", int, "measured_phase") or 0
    if phases and not 0 <= measured < len(phases):
        raise c.fail("measured_phase", f"must be 0..{len(phases) - 1}, not {measured}")
    records = c.table(top.get("records", {}), "records", RECORD_KEYS)
    size, sizes = _record_sizes(c, records)
    topics = c.table(top.get("topics", {}), "topics", TOPIC_KEYS)
    names = c.get(topics, "names", list, "topics.names")
    if names is not None:
        if not names or not all(isinstance(n, str) for n in names):
            raise c.fail("topics.names", "must be a non-empty array of topic names")
        from loadgen.workload import validate_topic

        for n in names:
            try:
                validate_topic(n)
            except UsageError as e:
                raise c.fail("topics.names", str(e)) from None
    payload = c.get(records, "payload", str, "records.payload")
    from loadgen.payloads import PAYLOAD_KINDS

    if payload is not None and payload not in PAYLOAD_KINDS:
        raise c.fail("records.payload", f"must be one of {', '.join(PAYLOAD_KINDS)}")
    thresholds = _thresholds(c, top.get("thresholds", {}))
    for t in thresholds.values():
        if not t.applies_to(kind):
            raise c.fail(f"thresholds.{t.name}", f"uses a figure a {kind} profile does not record")
    return ProfileSpec(
        name=name,
        description=c.get(top, "description", str, "description") or name,
        phases=phases,
        quick_phases=quick,
        record_size=size,
        record_sizes=sizes,
        measured=measured,
        thresholds=thresholds,
        kind=kind,
        topics=tuple(names) if names else None,
        partitions=c.positive_int(topics, "partitions", "topics.partitions"),
        replication_factor=c.positive_int(
            topics, "replication_factor", "topics.replication_factor"
        ),
        key_space=c.positive_int(records, "key_space", "records.key_space"),
        payload=payload,
        producer=_props(c, top.get("producer", {}), "producer"),
        consumer=_props(c, top.get("consumer", {}), "consumer"),
    )


def load_workload(path: str | Path, read: Callable[[], bytes] | None = None) -> ProfileSpec:
    """The ProfileSpec of a workload file.

    Raises:
        UsageError: the file is missing, not TOML, or not a valid workload.
    """
    try:
        raw = read() if read is not None else Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"workload {path}: cannot read it ({e.strerror}); fix the path") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"workload {path}: not valid TOML ({e})") from None
    return parse_workload(data, str(path))


SEED_NAMES = ("throughput", "burst", "sustained", "snapshot", "startup")


def seed_workloads() -> list[ProfileSpec]:
    """The five seed profiles, in plan order, from the package's workload files."""
    folder = resources.files(SEED_PACKAGE)
    return [load_workload(f"{n}.toml", (folder / f"{n}.toml").read_bytes) for n in SEED_NAMES]
