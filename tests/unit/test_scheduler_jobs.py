"""Cron parsing and job configuration."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kafkaval.config import load_settings
from kafkaval.errors import UsageError
from scheduler import history
from scheduler.jobs import DEFAULT_JOBS, cron_trigger, load_schedule, parse_schedule


def _doc(**job: object) -> dict:
    return {"job": [{"name": "nightly", "cron": "0 2 * * *", "suites": ["performance"], **job}]}


def test_a_valid_schedule_parses_with_policy_and_grace() -> None:
    raw = {
        "scheduler": {"timezone": "UTC", "misfire_grace_seconds": 600},
        "verdict": {"min_effect": 0.07, "alpha": 0.01},
        **_doc(quick=True, repeat=5, profiles=["throughput"]),
    }
    s = parse_schedule(raw)
    assert s.misfire_grace_seconds == 600
    assert s.policy.min_effect == 0.07 and s.policy.alpha == 0.01
    job = s.job("nightly")
    assert job.quick and job.repeat == 5 and job.profiles == ("throughput",)
    nxt = job.trigger("UTC").get_next_fire_time(None, datetime(2025, 1, 1, 3, tzinfo=UTC))
    assert nxt == datetime(2025, 1, 2, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("0 2 * *", "5 fields"),
        ("61 * * * *", "invalid cron expression '61 * * * *'"),
        ("* * * * mon-xyz", "invalid cron"),
        ("0 25 * * *", "invalid cron"),
    ],
)
def test_an_invalid_cron_is_one_clear_usage_error(expr: str, needle: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_schedule(_doc(cron=expr))
    assert needle in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("job", "needle"),
    [
        ({"suites": ["speed"]}, "unknown suite"),
        ({"repeat": 2}, "too few"),
        ({"repeat": "3"}, "whole number"),
        ({"quick": "yes"}, "true or false"),
        ({"every_seconds": 5}, "exactly one of cron or every_seconds"),
        ({"colour": "red"}, "unknown key(s) colour"),
        ({"timeout_seconds": 0}, "timeout_seconds must be > 0"),
    ],
)
def test_bad_job_values_are_rejected(job: dict, needle: str) -> None:
    with pytest.raises(UsageError, match=None) as e:
        parse_schedule(_doc(**job))
    assert needle in str(e.value)


def test_delivery_only_job_may_repeat_once_and_interval_jobs_work() -> None:
    s = parse_schedule(
        {
            "job": [
                {"name": "hourly", "cron": "0 * * * *", "suites": ["delivery"], "repeat": 1},
                {"name": "fast", "every_seconds": 30, "suites": ["performance"], "quick": True},
            ]
        }
    )
    assert s.job("fast").every_seconds == 30.0


def test_unknown_job_names_the_known_ones() -> None:
    with pytest.raises(UsageError, match="unknown job 'weekly'.*known jobs: nightly"):
        parse_schedule(_doc()).job("weekly")


def test_duplicate_names_and_bad_timezone_are_rejected() -> None:
    with pytest.raises(UsageError, match="duplicate"):
        parse_schedule({"job": _doc()["job"] * 2})
    with pytest.raises(UsageError, match="time zone"):
        parse_schedule({"scheduler": {"timezone": "Mars/Base"}, **_doc()})


def test_load_schedule_defaults_without_file_and_errors_for_a_named_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert load_schedule(settings).jobs == DEFAULT_JOBS
    with pytest.raises(UsageError, match="not found"):
        load_schedule(dataclasses.replace(settings, schedule_file=str(tmp_path / "nope.toml")))
    bad = tmp_path / "bad.toml"
    bad.write_text("[[job]\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_schedule(dataclasses.replace(settings, schedule_file=str(bad)))
    good = tmp_path / "schedule.toml"
    good.write_text('[[job]]\nname = "n"\ncron = "*/5 * * * *"\nsuites = ["delivery"]\n')
    assert load_schedule(settings).job("n").cron == "*/5 * * * *"


def test_last_fire_time_finds_the_latest_due_fire() -> None:
    trig = cron_trigger("0 2 * * *")
    now = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
    assert history.last_fire_time(trig, now, timedelta(hours=12)) == datetime(
        2025, 3, 4, 2, tzinfo=UTC
    )
    assert history.last_fire_time(trig, now, timedelta(hours=6)) is None


def test_suite_command_lines_follow_the_job() -> None:
    from scheduler.suites import suite_args

    s = parse_schedule(
        {
            "job": [
                {
                    "name": "j",
                    "every_seconds": 5,
                    "suites": ["performance", "delivery"],
                    "quick": True,
                    "repeat": 4,
                    "profiles": ["throughput"],
                    "scenarios": ["broker-restart"],
                    "perf_args": ["--producer-prop", "linger.ms=20"],
                    "delivery_args": ["--cluster", "single"],
                }
            ]
        }
    )
    job = s.job("j")
    assert suite_args(job, "performance") == [
        "perf",
        "run",
        "--quick",
        "--repeat",
        "4",
        "--profile",
        "throughput",
        "--producer-prop",
        "linger.ms=20",
    ]
    assert suite_args(job, "delivery") == [
        "delivery",
        "run",
        "--quick",
        "--scenario",
        "broker-restart",
        "--cluster",
        "single",
    ]
