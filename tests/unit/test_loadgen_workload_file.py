"""Workload files: the seed profiles as files, and one clear line for each mistake."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kafkaval.config import Settings
from kafkaval.errors import UsageError
from kafkaval.pacing import Phase
from loadgen.options import SuiteOptions, build_workload, resolve_profiles
from loadgen.profiles import PROFILES
from loadgen.thresholds import parse
from loadgen.workload import default_topics
from loadgen.workload_file import ProfileSpec, load_workload, parse_workload

_LOAD_CHECKS = {
    "min_rate_ratio": "rate(achieved) / rate(target) >= 0.99",
    "max_p95_service_seconds": "p95(service) < 100ms",
}
_IDS = {"consumed_ids_equal_acked": "acked_not_consumed + consumed_not_acked == 0"}
_ALWAYS = {
    "max_failed": "failed <= 0",
    "consumed_equals_acked": "consumed == acked",
    "sent_equals_acked_plus_failed": "sent == acked + failed",
}


def _checks(exprs: dict[str, str]) -> dict:
    out = {n: parse(e, n) for n, e in exprs.items()}
    out["max_broker_memory_bytes"] = parse("broker_memory < 2GiB", "max_broker_memory_bytes")
    return out


# The five profiles as the reference plan defines them (before they became files).
PLAN = [
    ProfileSpec(
        "throughput",
        "1000 msg/s for 60 s, 5 KiB records, acks=all",
        (Phase(60_000, 1000.0),),
        (Phase(8_000, 1000.0),),
        thresholds=_checks({**_LOAD_CHECKS, **_ALWAYS, **_IDS}),
    ),
    ProfileSpec(
        "burst",
        "5000 msg/s for 30 s between 10 s at 500 msg/s; reports recovery time",
        (Phase(5_000, 500.0), Phase(150_000, 5000.0), Phase(5_000, 500.0)),
        (Phase(1_500, 500.0), Phase(20_000, 5000.0), Phase(2_500, 500.0)),
        measured=1,
        thresholds=_checks({**_LOAD_CHECKS, **_ALWAYS, **_IDS}),
    ),
    ProfileSpec(
        "sustained",
        "500 msg/s for 5 min; reports drift of p99 and of process memory",
        (Phase(150_000, 500.0),),
        (Phase(7_500, 500.0),),
        thresholds=_checks({**_LOAD_CHECKS, **_ALWAYS, **_IDS}),
    ),
    ProfileSpec(
        "snapshot",
        "895,000 messages as fast as the broker takes them (Debezium initial snapshot)",
        (Phase(895_000, None),),
        (Phase(20_000, None),),
        thresholds=_checks({**_ALWAYS, **_IDS}),
    ),
    ProfileSpec(
        "startup",
        "cold broker process start until it answers metadata and acks a produce",
        (),
        (),
        thresholds=_checks({**_ALWAYS, "max_startup_seconds": "startup_seconds < 10s"}),
        kind="startup",
    ),
]


def test_seed_files_load_to_the_plan_profiles() -> None:
    assert list(PROFILES.values()) == PLAN
    assert list(PROFILES) == ["throughput", "burst", "sustained", "snapshot", "startup"]


def test_seed_workloads_build_the_same_workloads_as_before() -> None:
    wl = build_workload(PROFILES["burst"], SuiteOptions(quick=True), Settings())
    assert wl.topics == tuple(default_topics("kafkaval."))
    assert (wl.partitions, wl.replication_factor, wl.key_space, wl.payload) == (
        3,
        1,
        100_000,
        "cdc",
    )
    assert wl.record_size == 5120 and wl.record_sizes == ()
    assert wl.phases == PLAN[1].quick_phases
    assert dict(wl.producer_props) == {} and dict(wl.consumer_props) == {}


FULL = """
name = "orders"
description = "orders at 2000 msg/s"
measured_phase = 1

[[phases]]
duration = 2
rate = 500

[[phases]]
duration = 30
rate = 2000

[[quick_phases]]
count = 100
rate = 500

[[quick_phases]]
count = 4000
rate = 2000

[records]
sizes = [1024, 4096]
weights = [3, 1]
payload = "raw"
key_space = 50

[topics]
names = ["orders.a", "orders.b"]
partitions = 6
replication_factor = 1

[producer]
"linger.ms" = 10
"enable.idempotence" = false

[consumer]
"fetch.wait.max.ms" = "20"

[thresholds]
e2e = "p99(e2e) < 50ms"
mem = { expr = "broker_memory < 1GiB", skip_unmeasured = true }
"""


def test_a_full_workload_file_and_the_workload_it_runs(tmp_path: Path) -> None:
    path = tmp_path / "orders.toml"
    path.write_text(FULL)
    spec = load_workload(path)
    assert spec.phases == (Phase(1000, 500.0), Phase(60_000, 2000.0))
    assert spec.quick_phases == (Phase(100, 500.0), Phase(4000, 2000.0))
    assert spec.measured == 1 and spec.record_sizes == ((1024, 3.0), (4096, 1.0))
    assert spec.record_size == round((3 * 1024 + 4096) / 4)
    assert spec.producer == {"linger.ms": "10", "enable.idempotence": "false"}
    assert spec.thresholds["mem"].skip_unmeasured and spec.thresholds["e2e"].expr.startswith("p99")
    wl = build_workload(spec, SuiteOptions(quick=True), Settings())
    assert wl.topics == ("orders.a", "orders.b") and wl.partitions == 6 and wl.key_space == 50
    assert wl.payload == "raw" and wl.record_sizes == spec.record_sizes
    assert wl.phases == spec.quick_phases
    # The run's flags win over the file.
    wl = build_workload(spec, SuiteOptions(partitions=2, record_size=300), Settings())
    assert wl.partitions == 2 and wl.record_size == 300 and wl.record_sizes == ()
    assert wl.phases == spec.phases


def test_workload_files_run_alone_or_with_profiles(tmp_path: Path) -> None:
    path = tmp_path / "orders.toml"
    path.write_text(FULL)
    only = resolve_profiles(SuiteOptions(workload_files=[str(path)]))
    assert [s.name for s in only] == ["orders"]
    both = resolve_profiles(SuiteOptions(profiles=["startup"], workload_files=[str(path)]))
    assert [s.name for s in both] == ["startup", "orders"]
    clash = tmp_path / "clash.toml"
    clash.write_text(FULL.replace('name = "orders"', 'name = "startup"'))
    with pytest.raises(UsageError, match="already in this run"):
        resolve_profiles(SuiteOptions(profiles=["startup"], workload_files=[str(clash)]))


def _error(text: str) -> str:
    with pytest.raises(UsageError) as e:
        parse_workload(tomllib.loads(text), "w.toml")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("workload w.toml: ")
    return msg


BASE = 'name = "w"\n[[phases]]\ncount = 10\nrate = 100\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('name = "w"\nrte = 5\n' + BASE[11:], "rte: unknown key; allowed: name, description,"),
        (BASE + "[records]\nsise = 5\n", "records.sise: unknown key; allowed: size, sizes,"),
        (BASE.replace("count = 10", "count = 10\nburst = 1"), "phases[0].burst: unknown key"),
        (
            BASE.replace("rate = 100", 'rate = "fast"'),
            "phases[0].rate: must be a number, not string 'fast'",
        ),
        (
            BASE.replace("count = 10", "count = 1.5"),
            "phases[0].count: must be an integer, not number",
        ),
        (BASE.replace("rate = 100", "rate = 0"), "phases[0].rate: impossible rate 0 msg/s"),
        (BASE.replace("rate = 100", "rate = -5"), "impossible rate -5 msg/s"),
        (BASE.replace("rate = 100", "rate = nan"), "impossible rate nan msg/s"),
        (BASE.replace("count = 10", "count = 0"), "phases[0].count: must be >= 1, not 0"),
        (BASE.replace("count = 10\nrate = 100", "duration = 5"), "duration: needs a rate"),
        (BASE.replace("count = 10", ""), "give count or duration"),
        ('name = "w"\n', "phases: a load workload needs at least one"),
        (BASE + "measured_phase = 1\n", None),  # after [[phases]]: a key of the phase
        ("measured_phase = 3\n" + BASE, "measured_phase: must be 0..0, not 3"),
        ('kind = "soak"\n' + BASE, "kind: must be one of load, startup"),
        (BASE + "[records]\nsizes = [10, 20]\nweights = [1]\n", "records.weights: must be 2"),
        (BASE + "[records]\nsize = 10\nsizes = [10]\n", "give size or sizes, not both"),
        (BASE + '[records]\npayload = "avro"\n', "records.payload: must be one of cdc, raw"),
        (BASE + '[topics]\nnames = ["a b"]\n', "topics.names: illegal topic name 'a b'"),
        (BASE + "[topics]\npartitions = 0\n", "topics.partitions: must be >= 1, not 0"),
        (BASE + "[producer]\nx = [1]\n", "producer.x: must be a string, number or boolean"),
        (BASE + '[thresholds]\nt = "p99(lag) < 5ms"\n', "unknown figure p99(lag) (known: p50"),
        (BASE + '[thresholds]\nt = "startup_seconds < 5s"\n', "a load profile does not record"),
        (BASE + "[thresholds]\nt = 5\n", "thresholds.t: must be an expression string"),
    ],
)
def test_each_mistake_gives_one_clear_line(text: str, expected: str | None) -> None:
    if expected is None:
        # Valid TOML that is a different thing than it looks: rejected all the same.
        with pytest.raises(UsageError):
            parse_workload(tomllib.loads(text), "w.toml")
        return
    assert expected in _error(text)


def test_a_file_that_is_not_toml_or_missing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(UsageError, match=r"workload .*bad.toml: not valid TOML"):
        load_workload(bad)
    with pytest.raises(UsageError, match="cannot read it"):
        load_workload(tmp_path / "missing.toml")


def test_threshold_options_must_fit_a_profile_of_the_run() -> None:
    from loadgen.options import check_thresholds, profile_thresholds
    from loadgen.thresholds import parse_cli

    overrides, exprs = parse_cli(["startup_seconds < 5s", "failed == 0", "max_failed=2"])
    opts = SuiteOptions(profiles=["throughput"], thresholds=overrides, threshold_exprs=exprs)
    with pytest.raises(UsageError, match="'startup_seconds < 5s' uses a figure no profile"):
        check_thresholds([PROFILES["throughput"]], opts)
    check_thresholds([PROFILES["throughput"], PROFILES["startup"]], opts)
    with pytest.raises(UsageError, match="unknown threshold 'max_lag'; known: consumed_equals"):
        check_thresholds([PROFILES["throughput"]], SuiteOptions(thresholds={"max_lag": 1.0}))
    # Expressions join the profiles that record their figures; limits replace the named ones.
    t = profile_thresholds(PROFILES["throughput"], opts)
    assert "failed == 0" in t and "startup_seconds < 5s" not in t
    assert t["max_failed"].expr == "failed <= 2.0"
    s = profile_thresholds(PROFILES["startup"], opts)
    assert "startup_seconds < 5s" in s and "failed == 0" in s
    # At max rate the rate and service-time limits mean nothing and are left out.
    fast = profile_thresholds(PROFILES["throughput"], SuiteOptions(rate="max"))
    assert "min_rate_ratio" not in fast and "max_p95_service_seconds" not in fast
    assert "max_failed" in fast
