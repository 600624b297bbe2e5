"""The load dashboard: the load generator's rates, latencies and lag per profile."""

from __future__ import annotations

from typing import Any

from .panels import LATENCY_LIMIT, SCOPE, Layout, dashboard, query_var, scope_vars

LOADGEN = "kafkaval_loadgen_"


def _quantiles(metric: str, sel: str) -> list[tuple[str, str]]:
    return [
        (
            f"histogram_quantile({q}, sum by (le, profile) "
            f"(rate({metric}_bucket{{{sel}}}[$__rate_interval])))",
            f"{{{{profile}}}} p{label}",
        )
        for q, label in (("0.5", "50"), ("0.95", "95"), ("0.99", "99"), ("0.999", "99.9"))
    ]


def _profile_rate(metric: str, sel: str) -> str:
    return f"sum by (profile) (rate({LOADGEN}{metric}{{{sel}}}[$__rate_interval]))"


def load_dashboard() -> dict[str, Any]:
    # run_id: only a distributed run's workers carry it; at "All" (.*) the
    # series without it (local runs) match too.
    sel = f'profile=~"$profile",run_id=~"$run_id",{SCOPE}'
    tsel = f'profile=~"$profile",topic=~"$topic",run_id=~"$run_id",{SCOPE}'
    lay = Layout()
    lay.row("Rate")
    lay.panel(
        "Target vs achieved rate",
        [
            (
                f"max by (profile) ({LOADGEN}target_rate_messages_per_second{{{sel}}})",
                "{{profile}} target",
            ),
            (
                _profile_rate("messages_acked_total", tsel),
                "{{profile}} acked",
            ),
        ],
        unit="msg/s",
        description="No target line while a phase runs as fast as possible.",
    )
    lay.panel(
        "Acked / failed / consumed",
        [
            (
                _profile_rate("messages_acked_total", tsel),
                "{{profile}} acked",
            ),
            (
                _profile_rate("messages_failed_total", tsel),
                "{{profile}} failed",
            ),
            (
                _profile_rate("messages_consumed_total", tsel),
                "{{profile}} consumed",
            ),
        ],
        unit="msg/s",
    )
    lay.row("Latency")
    lay.panel(
        "Service time (send -> ack)",
        _quantiles(f"{LOADGEN}service_latency_seconds", sel),
        unit="s",
        description="The red line is the limit on p95: 100 ms.",
        thresholds=LATENCY_LIMIT,
    )
    lay.panel(
        "Response time (intended send -> ack)",
        _quantiles(f"{LOADGEN}response_latency_seconds", sel),
        unit="s",
        description="Coordinated-omission-correct: includes the time a message waited to be sent.",
    )
    lay.panel(
        "End-to-end (message timestamp -> consumed)",
        _quantiles(f"{LOADGEN}e2e_latency_seconds", sel),
        unit="s",
    )
    lay.panel(
        "Service time heatmap",
        [
            (
                f"sum by (le) (increase({LOADGEN}service_latency_seconds_bucket{{{sel}}}"
                "[$__rate_interval]))",
                "{{le}}",
            ),
        ],
        unit="s",
        kind="heatmap",
    )
    lay.row("Consumers and client")
    lay.panel(
        "Consumer lag (acked, not yet consumed)",
        [
            (
                f"sum by (profile) ({LOADGEN}messages_acked_total{{{tsel}}}) - "
                f"sum by (profile) ({LOADGEN}messages_consumed_total{{{tsel}}})",
                "{{profile}}",
            ),
        ],
        unit="short",
    )
    lay.panel(
        "librdkafka broker rtt",
        [
            (
                f"max by (profile, role) ({LOADGEN}rdkafka_broker_rtt_seconds{{{sel}}})",
                "{{profile}} {{role}} avg",
            ),
            (
                f"max by (profile, role) ({LOADGEN}rdkafka_broker_rtt_p99_seconds{{{sel}}})",
                "{{profile}} {{role}} p99",
            ),
        ],
        unit="s",
    )
    lay.panel(
        "librdkafka queue and outbuf latency",
        [
            (
                f"max by (profile) ({LOADGEN}rdkafka_queue_latency_seconds{{{sel}}})",
                "{{profile}} internal queue",
            ),
            (
                f"max by (profile) ({LOADGEN}rdkafka_outbuf_latency_seconds{{{sel}}})",
                "{{profile}} outbuf",
            ),
        ],
        unit="s",
    )
    lay.panel(
        "librdkafka queued messages",
        [(f"sum by (profile) ({LOADGEN}rdkafka_queued_messages{{{sel}}})", "{{profile}}")],
    )
    variables = [
        *scope_vars(f"{LOADGEN}messages_sent_total"),
        query_var("profile", "profile", f"label_values({LOADGEN}messages_sent_total, profile)"),
        query_var(
            "topic",
            "topic",
            f'label_values({LOADGEN}messages_sent_total{{profile=~"$profile"}}, topic)',
        ),
        query_var("run_id", "run", f"label_values({LOADGEN}messages_sent_total, run_id)"),
    ]
    return dashboard("kafkaval-load", "Kafka load", lay, variables)
