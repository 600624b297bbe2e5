"""``make bench-agent-overhead``: what the JMX exporter agent on the broker costs the clients.

A benchmark, not a test. Two single-broker local stacks run side by side,
identical but for the agent: the configured one (with it) and a twin started
with ``jmx_port = 0`` (without it) on ports shifted by ``--shift``. ``perf ab``
alternates between them in randomised ABBA blocks, so drift and busy
neighbours hit both sides alike, and judges the agent's cost on the paired
per-round differences, B (the agent) vs A (none): at a fixed rate (the
``throughput`` profile) the brokers' CPU seconds per 1,000 messages (what the
agent's scrapes take from the broker) and the clients' service p50 and p99
(what that does to latency); at max rate (the ``snapshot`` profile) the
throughput. Four metrics: with 7 rounds the smallest p, 2^-7, passes Holm's
alpha/4.

Each side's broker figures come from the Prometheus of its own stack. The
configured stack is started if it is not up and left running (as ``make
bench-compare`` does); the twin is this benchmark's own and is stopped on
every exit, Ctrl-C included. Side A's load generator registers its metrics
endpoint with the configured stack, whose Prometheus does not watch the
twin's runs: it waits out its scrape-wait after each run, outside the
measured window.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from typing import Any

from kafkaval.config import Settings, load_settings
from kafkaval.errors import KafkavalError, UsageError

# Clear of the configured stack's ports and of the delivery suite's other shape.
DEFAULT_SHIFT = 1000
PROFILES = ["throughput", "snapshot"]
METRICS = (
    "performance.throughput.broker_cpu_seconds_per_1k_messages",
    "performance.throughput.service_p50_seconds",
    "performance.throughput.service_p99_seconds",
    "performance.snapshot.achieved_rate",
)


def twin_without_agent(settings: Settings, shift: int) -> Settings:
    """The configured single-broker stack without the agent, on shifted ports.

    Raises:
        UsageError: the shift leaves a port out of range or on the stack's own.
    """
    ports = (
        settings.broker_port,
        settings.controller_port,
        settings.prometheus_port,
        settings.metrics_port,
    )
    if shift <= 0 or max(ports) + shift > 65535:
        raise UsageError(
            f"--shift {shift} puts the twin's ports outside 1-65535 or on the stack's own: "
            "give a positive shift that keeps them below 65536"
        )
    return dataclasses.replace(
        settings,
        state_dir=f"{settings.state_dir}-noagent",
        broker_port=settings.broker_port + shift,
        controller_port=settings.controller_port + shift,
        prometheus_port=settings.prometheus_port + shift,
        metrics_port=settings.metrics_port + shift,
        jmx_port=0,
    )


def check_measurable(settings: Settings) -> None:
    """Refuse, before anything starts, a setup where the comparison means nothing.

    Raises:
        UsageError: not the local single-broker stack, or its agent is off.
    """
    from stack import local

    if settings.brokers != 1:
        raise UsageError("brokers must be 1: the twin without the agent is one broker")
    if not local.is_local_kafka(settings):
        raise UsageError(
            f"bootstrap_servers point at another Kafka ({settings.bootstrap_servers}): the "
            "agent's cost is measured on the local stack; unset bootstrap_servers"
        )
    if not settings.jmx_port:
        raise UsageError("jmx_port is 0, so the agent is off: unset it to measure the agent")


def run(settings: Settings, rounds: int, opts: Any, shift: int) -> dict[str, Any]:
    """Start what is missing, run the interleaved rounds, stop the twin; the A/B record."""
    from loadgen.ab import Side, run_ab, run_side_with_suite
    from scheduler.jobs import load_schedule
    from stack import local

    check_measurable(settings)
    twin = twin_without_agent(settings, shift)
    local.up(settings)  # a no-op for a stack that is already up
    try:
        print(f"the twin broker without the agent: ports +{shift}, state {twin.state_dir}")
        local.up(twin)
        # Each side's broker figures from the Prometheus that watches its broker.
        plain, agent = local.local_settings(twin), local.local_settings(settings)
        a = Side("no agent", plain.bootstrap_servers, prometheus_url=plain.prometheus_url)
        b = Side("JMX agent", agent.bootstrap_servers, prometheus_url=agent.prometheus_url)
        policy = dataclasses.replace(load_schedule(settings).policy, metrics=METRICS)
        return run_ab(settings, a, b, rounds, run_side_with_suite(opts, sys.stdout), policy)
    finally:
        # The twin's state dir is this benchmark's alone: whatever of it runs is ours.
        local.down(twin)


def main(argv: Sequence[str] | None = None) -> int:
    from loadgen.ab import MIN_ROUNDS, format_record
    from loadgen.options import SuiteOptions

    parser = argparse.ArgumentParser(
        prog="bench-agent-overhead", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rounds", type=int, default=8, help="A/B rounds (8)")
    parser.add_argument("--quick", action="store_true", help="QUICK-length runs")
    parser.add_argument("--shift", type=int, default=DEFAULT_SHIFT, help="the twin's port shift")
    args = parser.parse_args(argv)
    try:
        if args.rounds < MIN_ROUNDS:
            raise UsageError(f"--rounds must be >= {MIN_ROUNDS}: the paired test needs rounds")
        opts = SuiteOptions(quick=args.quick, profiles=PROFILES, progress=False)
        opts.validate()
        record = run(load_settings(), args.rounds, opts, args.shift)
    except KafkavalError as e:
        print(f"bench-agent-overhead: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("bench-agent-overhead: interrupted; the twin broker was stopped", file=sys.stderr)
        return 130
    print(format_record(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
