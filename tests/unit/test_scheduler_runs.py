"""Baseline bookkeeping, metric extraction, and the job runner with fake suites."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from kafkaval.config import Settings, load_settings
from kafkaval.errors import UsageError
from kafkaval.records import iso, new_run_id, save_run_record
from scheduler import baseline, cli, history
from scheduler.jobs import parse_schedule
from scheduler.metrics import SchedulerCollector, SchedulerState
from scheduler.metrics_extract import extract
from scheduler.runner import JobRunner, SchedulerService
from scheduler.suites import SuiteOutcome, settings_toml


def perf_record(
    p99s: list[float], rates: list[float], passed: bool = True, started: str | None = None
) -> dict:
    started = started or iso(datetime.now(UTC))
    reps = [
        {"achieved_rate": r, "service_latency_seconds": {"p95": p / 2, "p99": p}}
        for p, r in zip(p99s, rates, strict=True)
    ]
    return {
        "run_id": new_run_id(),
        "kind": "performance",
        "started_at": started,
        "passed": passed,
        "profiles": {
            "snapshot": {"target_rate": None, "achieved_rate": rates[0], "repetitions": reps},
            "startup": {"startup_seconds": 4.0, "passed": True},
        },
    }


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = load_settings(environ={})
    return dataclasses.replace(base, results_dir=str(tmp_path / "results"))


def test_extract_takes_every_repetition_and_the_right_directions() -> None:
    rec = perf_record([0.01, 0.011, 0.012], [900, 950, 1000])
    delivery = {"kind": "delivery", "scenarios": {"broker-restart": {"lost": 0}}}
    got = extract([rec, delivery])
    assert got["performance.snapshot.achieved_rate"].values == [900, 950, 1000]
    assert got["performance.snapshot.achieved_rate"].direction == "higher"
    assert got["performance.snapshot.service_p99_seconds"].values == [0.01, 0.011, 0.012]
    assert got["performance.startup.startup_seconds"].values == [4.0]
    assert got["delivery.broker-restart.lost"].direction == "zero"


def test_baseline_accept_show_history_and_unknown_ids(settings: Settings) -> None:
    results = settings.path("results_dir")
    with pytest.raises(UsageError, match="does not exist"):
        baseline.accept(results, ["nope"])
    first = perf_record([0.01] * 3, [1000] * 3, started="2026-01-01T00:00:00.000Z")
    second = perf_record([0.01] * 3, [1000] * 3, started="2026-01-01T00:00:00.500Z")
    save_run_record(results, first)
    save_run_record(results, second)
    assert baseline.current_baseline(results) is None
    assert baseline.propose(results) == first["run_id"]  # the first good run
    with pytest.raises(UsageError, match="no run 'missing'"):
        baseline.accept(results, ["missing"])
    baseline.accept(results, [first["run_id"]])
    baseline.accept(results, [second["run_id"], first["run_id"]])
    doc = json.loads((results / "baselines.json").read_text())
    assert doc["current"]["run_ids"] == [second["run_id"], first["run_id"]]
    assert [h["run_ids"] for h in doc["history"]] == [
        [first["run_id"]],
        [second["run_id"], first["run_id"]],
    ]
    assert len(baseline.load_records(results, baseline.current_baseline(results))) == 2


def test_propose_skips_failed_runs(settings: Settings) -> None:
    results = settings.path("results_dir")
    bad = perf_record([0.01] * 3, [1000] * 3, passed=False)
    save_run_record(results, bad)
    assert baseline.propose(results) is None


def _fake_suites(samples: list[list[float]]) -> Callable:
    """A suite function that writes one performance record per call from ``samples``."""
    calls = iter(samples)

    def run(job, settings, should_abort):  # noqa: ANN001, ANN202
        p99s = next(calls)
        rec = perf_record(p99s, [1000.0] * len(p99s))
        path = save_run_record(settings.path("results_dir"), rec)
        return SuiteOutcome(run_ids=[rec["run_id"]], records=[path], exit_codes={"performance": 0})

    return run


def _scrape(state: SchedulerState) -> str:
    reg = CollectorRegistry()
    reg.register(SchedulerCollector(state))
    return generate_latest(reg).decode()


def _p99_regression_gauge(job: str) -> str:
    return (
        'kafkaval_scheduler_regression{metric="performance.snapshot.service_p99_seconds",'
        f'schedule_job="{job}"}} 1.0'
    )


def test_runner_flags_a_slowed_run_and_not_a_normal_one(settings: Settings) -> None:
    schedule = parse_schedule({"job": [{"name": "perf", "cron": "0 2 * * *"}]})
    runner = JobRunner(
        settings,
        schedule,
        reports=None,
        suites=_fake_suites(
            [
                [0.010, 0.0102, 0.0099, 0.0101],
                [0.0101, 0.0099, 0.0100, 0.0102],
                [0.0125, 0.0124, 0.0127, 0.0126],
            ]
        ),
    )
    first = runner.run(schedule.job("perf"))
    assert first["status"] == "ok" and "no baseline yet" in first["notes"][0]
    baseline.accept(settings.path("results_dir"), [first["run_id"]])  # a scheduled run id
    normal = runner.run(schedule.job("perf"))
    slow = runner.run(schedule.job("perf"))
    assert normal["status"] == "ok" and normal["regressions"] == []
    assert slow["status"] == "regression"
    assert "performance.snapshot.service_p99_seconds" in slow["regressions"]
    on_disk = json.loads(
        (settings.path("results_dir") / f"scheduled-{slow['run_id']}.json").read_text()
    )
    assert on_disk["status"] == "regression" and on_disk["ended_at"]
    # the collector shows the regression gauge for the latest run
    reg = CollectorRegistry()
    reg.register(SchedulerCollector(runner.state))
    job = {"schedule_job": "perf"}
    metric = "performance.snapshot.service_p99_seconds"
    assert reg.get_sample_value("kafkaval_scheduler_regression", {**job, "metric": metric}) == 1
    assert reg.get_sample_value("kafkaval_scheduler_runs_total", {**job, "status": "regression"})
    assert (
        reg.get_sample_value("kafkaval_scheduler_last_run_status", {**job, "status": "regression"})
        == 1
    )


def test_a_crashing_suite_is_recorded_as_failed_and_does_not_raise(settings: Settings) -> None:
    schedule = parse_schedule({"job": [{"name": "perf", "cron": "0 2 * * *"}]})

    def boom(job, settings, should_abort):  # noqa: ANN001, ANN202
        raise RuntimeError("broker on fire")

    rec = JobRunner(settings, schedule, suites=boom, reports=None).run(schedule.job("perf"))
    assert rec["status"] == "failed" and "broker on fire" in rec["errors"][0]


def test_restart_runs_a_missed_fire_once_and_never_twice(settings: Settings) -> None:
    """A cron fire missed while the scheduler was down runs at start, once."""
    schedule = parse_schedule({"job": [{"name": "perf", "cron": "0 2 * * *"}]})
    now = datetime(2025, 3, 4, 2, 30, tzinfo=UTC)  # 30 min after the nightly fire
    calls: list[str] = []

    def suites(job, settings, should_abort):  # noqa: ANN001, ANN202
        calls.append(job.name)
        return SuiteOutcome(errors=["no stack in a unit test"])

    def make() -> JobRunner:
        return JobRunner(settings, schedule, suites=suites, reports=None, now=lambda: now)

    runner = make()
    # what the catch-up in SchedulerService.start would schedule
    done = history.history_by_job(runner.results).get("perf", [])
    missed = history.last_fire_time(runner.triggers["perf"], now, timedelta(hours=6))
    assert missed == datetime(2025, 3, 4, 2, tzinfo=UTC) and not done
    runner.run_scheduled("perf")
    assert calls == ["perf"]
    make().run_scheduled("perf")  # "restarted" scheduler: same fire time has a record
    assert calls == ["perf"]
    recs = history.history_by_job(runner.results)["perf"]
    assert recs[0]["scheduled_for"] == "2025-03-04T02:00:00.000Z"
    assert recs[0]["status"] == "failed"


def test_service_catches_up_only_when_no_record(settings: Settings) -> None:
    """Real apscheduler, real clock: the hourly fire that passed while "down" runs once."""
    schedule = parse_schedule({"job": [{"name": "hourly", "cron": "0 * * * *"}]})
    runs: list[str] = []

    def suites(job, settings, should_abort):  # noqa: ANN001, ANN202
        runs.append(job.name)
        return SuiteOutcome()

    def started_service() -> SchedulerService:
        service = SchedulerService(JobRunner(settings, schedule, suites=suites, reports=None))
        service.start()
        return service

    service = started_service()
    try:
        deadline = time.monotonic() + 10
        while not runs and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        service.scheduler.shutdown(wait=True)
    assert runs == ["hourly"]
    recs = history.history_by_job(settings.path("results_dir"))["hourly"]
    due = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    assert [r["scheduled_for"] for r in recs] == [iso(due)]
    service = started_service()  # a restart: the fire time has a record now
    try:
        nrt = service.scheduler.get_job("hourly").next_run_time
        assert nrt.astimezone(UTC) == due + timedelta(hours=1)
    finally:
        service.scheduler.shutdown(wait=True)
    assert runs == ["hourly"]


def test_state_survives_restart_from_records(settings: Settings) -> None:
    schedule = parse_schedule({"job": [{"name": "perf", "cron": "0 2 * * *"}]})
    runner = JobRunner(settings, schedule, suites=lambda *a: SuiteOutcome(), reports=None)
    runner.run(schedule.job("perf"))
    state = SchedulerState()
    state.load(history.history_by_job(runner.results))
    last, totals, _, _ = state.snapshot()
    assert last["perf"]["status"] == "failed" and totals[("perf", "failed")] == 1


def test_settings_survive_the_trip_to_the_child_config(tmp_path: Path) -> None:
    s = dataclasses.replace(
        load_settings(environ={}),
        kafka={"ssl.cipher.suites": "A,B"},
        chaos_targets=["kafka-1"],
        metrics_port=12345,
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text(settings_toml(s))
    assert load_settings(cfg, environ={}) == s


def test_cli_bad_input_is_one_line(settings: Settings, capsys: pytest.CaptureFixture) -> None:
    from kafkaval.cli import main

    res = str(settings.path("results_dir"))
    assert main(["baseline", "accept", "nope", "--results-dir", res]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "results folder" in err
    Path(res).mkdir(parents=True)
    assert main(["baseline", "compare", "--results-dir", res]) == 2
    assert "latest-performance.json" in capsys.readouterr().err
    assert main(["schedule", "--once", "weekly", "--results-dir", res, "--metrics-port", "0"]) == 2
    assert "unknown job 'weekly'" in capsys.readouterr().err
    assert cli.METRICS_PORT_OFFSET > 16  # clear of loadgen worker ports


def test_verdict_metrics_selection_judges_only_matching_metrics_and_always_loss() -> None:
    from scheduler.comparison import compare

    base = perf_record([0.010, 0.011, 0.012], [900, 950, 1000])
    slow = perf_record([0.050, 0.051, 0.052], [900, 950, 1000])  # the tail is 5x worse
    for rec in (base, slow):
        for rep in rec["profiles"]["snapshot"]["repetitions"]:
            rep["service_latency_seconds"]["p50"] = 0.002  # the median is not
    loss = {"kind": "delivery", "scenarios": {"broker-restart": {"lost": 3}}}
    policy = parse_schedule(
        {
            "verdict": {"metrics": ["performance.*_p50_seconds", "performance.nosuch.*"]},
            "job": [{"name": "j", "every_seconds": 60}],
        }
    ).policy
    verdicts = {v.metric: v for v in compare([base], [slow, loss], policy)}
    assert verdicts["performance.snapshot.service_p50_seconds"].decision == "no change"
    assert "performance.snapshot.service_p99_seconds" not in verdicts
    assert verdicts["delivery.broker-restart.lost"].is_regression  # judged whatever the patterns
    assert verdicts["performance.nosuch.*"].reason == "matches no metric"
    # No selection: all judged, as one family (Holm over 4 metrics): 3 vs 3
    # samples can then never be significant, a baseline of two runs can.
    everything = {v.metric: v for v in compare([base, base], [slow])}
    assert everything["performance.snapshot.service_p99_seconds"].is_regression
    with pytest.raises(UsageError, match="metrics must be a list"):
        parse_schedule({"verdict": {"metrics": 5}, "job": [{"name": "j", "every_seconds": 60}]})


def test_secrets_reach_the_child_by_environment_not_the_config_file(tmp_path: Path) -> None:
    from kafkaval.config import secret_environment

    s = dataclasses.replace(
        load_settings(environ={}),
        kafka={"sasl.username": "perf", "sasl.password": "pa,ss=word"},
        producer={"sasl.oauthbearer.client.secret": "s3cr3t"},
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text(settings_toml(s))
    assert "pa,ss=word" not in cfg.read_text() and "s3cr3t" not in cfg.read_text()
    env = secret_environment(s)
    assert env == {
        "KAFKAVAL_KAFKA__SASL_PASSWORD": "pa,ss=word",
        "KAFKAVAL_PRODUCER__SASL_OAUTHBEARER_CLIENT_SECRET": "s3cr3t",
    }
    assert load_settings(cfg, environ=env) == s


def test_history_job_flags_a_step_and_exposes_it_as_a_gauge(settings: Settings) -> None:
    schedule = parse_schedule({"job": [{"name": "hist", "kind": "history", "cron": "30 2 * * *"}]})
    runner = JobRunner(settings, schedule, suites=lambda *a: SuiteOutcome(), reports=None)
    empty = runner.run(schedule.job("hist"))
    assert empty["status"] == "failed" and "no performance run records" in empty["errors"][0]
    results = settings.path("results_dir")
    p99s = [0.0100, 0.0102, 0.0099, 0.0101, 0.0100, 0.0098, 0.0101, 0.0100]
    p99s += [0.0120, 0.0121, 0.0119, 0.0122, 0.0120, 0.0118]  # +20% from run 8 on
    ids = []
    for i, p in enumerate(p99s):
        rec = perf_record([p, p * 1.01, p * 0.99], [1000.0, 1005.0, 995.0])
        rec["run_id"] = f"20261201T1{i:02d}000Z-hist{i:02d}"
        save_run_record(results, rec)
        ids.append(rec["run_id"])
    out = runner.run(schedule.job("hist"))
    assert out["status"] == "regression", out
    assert out["regressions"] == [  # the fake's p95 is half its p99: it steps too
        "performance.snapshot.service_p95_seconds",
        "performance.snapshot.service_p99_seconds",
    ]
    assert out["history_run_ids"] == ids
    p99 = next(v for v in out["verdicts"] if v["metric"].endswith("service_p99_seconds"))
    assert f"from run {ids[8]}" in p99["reason"] and p99["effect"] > 0.15
    rate = next(v for v in out["verdicts"] if v["metric"].endswith("achieved_rate"))
    assert rate["decision"] == "no change"
    assert _p99_regression_gauge("hist") in _scrape(runner.state)
    with pytest.raises(UsageError, match="history job runs no suite"):
        parse_schedule(
            {"job": [{"name": "h", "kind": "history", "cron": "0 2 * * *", "repeat": 3}]}
        )
    with pytest.raises(UsageError, match="unknown kind"):
        parse_schedule({"job": [{"name": "h", "kind": "nope", "cron": "0 2 * * *"}]})


def test_ab_job_runs_perf_ab_against_the_pinned_side_and_exposes_its_verdicts(
    settings: Settings,
) -> None:
    from scheduler.suites import suite_args

    schedule = parse_schedule(
        {
            "job": [
                {"name": "ab", "kind": "ab", "cron": "0 4 * * *", "baseline": "pinned.toml",
                 "rounds": 6, "quick": True, "profiles": ["throughput"]},
            ]
        }
    )  # fmt: skip
    job = schedule.job("ab")
    assert suite_args(job, "ab") == [
        "perf", "ab", "--quick", "--a", "pinned.toml", "--rounds", "6", "--profile", "throughput",
    ]  # fmt: skip
    verdict = {"metric": "performance.snapshot.service_p99_windowed_seconds",
               "direction": "lower", "decision": "regression", "effect": 0.12}  # fmt: skip

    def fake_ab(job, settings, should_abort) -> SuiteOutcome:  # noqa: ANN001
        rec = {"run_id": new_run_id(), "kind": "ab", "complete": True,
               "verdicts": [verdict], "regressions": [verdict["metric"]]}  # fmt: skip
        path = save_run_record(settings.path("results_dir"), rec)
        return SuiteOutcome(run_ids=[rec["run_id"]], records=[path], exit_codes={"ab": 1})

    runner = JobRunner(settings, schedule, suites=fake_ab, reports=None)
    out = runner.run(job)
    assert out["status"] == "regression" and out["verdicts"] == [verdict]
    assert (
        'kafkaval_scheduler_regression{metric="performance.snapshot.service_p99_windowed_seconds",'
        'schedule_job="ab"} 1.0' in _scrape(runner.state)
    )
    for bad, message in (
        ({"rounds": 3}, "needs baseline"),
        ({"baseline": "a.toml", "rounds": 2}, "rounds must be"),
        ({"baseline": "a.toml", "repeat": 3}, "takes no repeat"),
    ):
        with pytest.raises(UsageError, match=message):
            parse_schedule({"job": [{"name": "x", "kind": "ab", "cron": "0 4 * * *", **bad}]})
    with pytest.raises(UsageError, match="belong to kind"):
        parse_schedule({"job": [{"name": "x", "cron": "0 4 * * *", "rounds": 5}]})
