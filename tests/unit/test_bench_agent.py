"""make bench-agent-overhead: the twin without the agent, and what it refuses."""

from __future__ import annotations

import dataclasses

import pytest

from kafkaval.config import load_settings
from kafkaval.errors import UsageError
from loadgen.bench_agent import check_measurable, main, twin_without_agent


def test_the_twin_differs_only_in_ports_state_and_the_agent() -> None:
    settings = load_settings(environ={})
    twin = twin_without_agent(settings, 1000)
    assert twin.jmx_port == 0 and settings.jmx_port
    assert twin.broker_port == settings.broker_port + 1000
    assert twin.controller_port == settings.controller_port + 1000
    assert twin.prometheus_port == settings.prometheus_port + 1000
    assert twin.metrics_port == settings.metrics_port + 1000
    assert twin.state_dir != settings.state_dir
    changed = {"jmx_port", "broker_port", "controller_port", "prometheus_port", "metrics_port"}
    same = {f.name for f in dataclasses.fields(settings)} - changed - {"state_dir"}
    assert {n: getattr(twin, n) for n in same} == {n: getattr(settings, n) for n in same}


@pytest.mark.parametrize(
    ("environ", "says"),
    [
        ({"KAFKAVAL_BOOTSTRAP_SERVERS": "kafka.example:9092"}, "another Kafka"),
        ({"KAFKAVAL_BROKERS": "3"}, "brokers must be 1"),
        ({"KAFKAVAL_JMX_PORT": "0"}, "agent is off"),
    ],
)
def test_a_setup_where_the_comparison_means_nothing_is_refused(
    environ: dict[str, str], says: str
) -> None:
    with pytest.raises(UsageError, match=says):
        check_measurable(load_settings(environ=environ))


def test_too_few_rounds_is_a_usage_error_before_anything_starts(capsys) -> None:
    assert main(["--rounds", "2"]) == 2
    err = capsys.readouterr().err
    assert "--rounds must be >= 3" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("shift", [0, -1000, 60000])
def test_a_shift_that_puts_the_twin_on_bad_ports_is_refused(shift: int) -> None:
    with pytest.raises(UsageError, match="--shift"):
        twin_without_agent(load_settings(environ={}), shift)
