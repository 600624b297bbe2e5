"""The delivery dashboard: the chaos suite's counts, acks and faults per scenario."""

from __future__ import annotations

from typing import Any

from .panels import (
    LOST_LIMIT,
    PASS_FAIL,
    SCOPE,
    Layout,
    dashboard,
    faults_annotation,
    query_var,
    scope_vars,
)


def _zero_if_absent(metric: str, sel: str) -> str:
    """Per-scenario total of a counter the suite creates only on its first event: 0 before."""
    sent = "kafkaval_delivery_sent_total{" + sel + "}"
    return f"sum by (scenario) ({metric}{{{sel}}}) or sum by (scenario) ({sent}) * 0"


def delivery_dashboard() -> dict[str, Any]:
    sel = f'scenario=~"$scenario",{SCOPE}'
    gsel = f'scenario=~"$scenario",group=~"$group",{SCOPE}'
    lay = Layout()
    lay.row("Produced and consumed")
    lay.panel(
        "Acked vs delivered per group (totals)",
        [
            (
                "sum by (scenario) (kafkaval_delivery_acked_total{" + sel + "})",
                "{{scenario}} acked",
            ),
            # Totals, not rates: the checker adds a group's deliveries once, at the final read.
            (
                "sum by (scenario, group) (kafkaval_delivery_group_delivered_total{" + gsel + "})",
                "{{scenario}} {{group}} delivered",
            ),
        ],
        description="At-least-once: every group's delivered total reaches the acked total.",
    )
    lay.panel(
        "Faults active",
        [
            (
                "max by (scenario, kind, target) (kafkaval_chaos_fault_active{" + sel + "})",
                "{{kind}} on {{target}}",
            )
        ],
        description="1 while a fault is applied; also shown as annotations on every panel.",
    )
    lay.panel(
        "Acked msg/s",
        [
            (
                "sum by (scenario) (rate(kafkaval_delivery_acked_total{"
                + sel
                + "}[$__rate_interval]))",
                "{{scenario}}",
            )
        ],
        description="Throughput of the scenario's producer; faults show as dips.",
    )
    lay.panel(
        "Ack latency (send -> ack)",
        [
            (
                f"histogram_quantile({q}, sum by (scenario, le) (rate("
                "kafkaval_delivery_ack_latency_seconds_bucket{" + sel + "}[$__rate_interval])))",
                "{{scenario}} p" + label,
            )
            for q, label in (("0.5", "50"), ("0.99", "99"))
        ],
        unit="s",
        description="How a fault stretches acknowledgements while nothing is lost.",
    )
    lay.row("Checker results")
    lay.panel(
        "Lost / log duplicates / reordered",
        [
            ("sum by (scenario) (kafkaval_delivery_lost_total{" + sel + "})", "{{scenario}} lost"),
            (
                "sum by (scenario) (kafkaval_delivery_log_duplicates_total{" + sel + "})",
                "{{scenario}} log duplicates",
            ),
            (
                "sum by (scenario) (kafkaval_delivery_reordered_total{" + sel + "})",
                "{{scenario}} reordered",
            ),
        ],
        description="Lost = acked and never in the log at the final read. Must stay 0.",
    )
    lay.panel(
        "Redeliveries and missing per group",
        [
            (
                "sum by (scenario, group) (kafkaval_delivery_group_redeliveries_total{"
                + gsel
                + "})",
                "{{scenario}} {{group}} redeliveries",
            ),
            (
                "sum by (scenario, group) (kafkaval_delivery_group_missing_total{" + gsel + "})",
                "{{scenario}} {{group}} missing",
            ),
        ],
    )
    lay.panel(
        "Sent / acked / failed / indeterminate",
        [
            ("sum by (scenario) (kafkaval_delivery_sent_total{" + sel + "})", "{{scenario}} sent"),
            (
                "sum by (scenario) (kafkaval_delivery_acked_total{" + sel + "})",
                "{{scenario}} acked",
            ),
            (
                _zero_if_absent("kafkaval_delivery_failed_total", sel),
                "{{scenario}} failed",
            ),
            (
                _zero_if_absent("kafkaval_delivery_indeterminate_total", sel),
                "{{scenario}} indeterminate",
            ),
        ],
    )
    lay.panel(
        "Scenario verdict",
        [
            (
                "max by (scenario, cluster) (kafkaval_delivery_scenario_passed{" + sel + "})",
                "{{scenario}}",
            )
        ],
        kind="stat",
        width=6,
        description="PASS: every bound of the scenario's last run was met.",
        thresholds=[(None, "red"), (1, "green")],
        mappings=PASS_FAIL,
    )
    lay.panel(
        "Lost acked messages",
        [("sum by (scenario) (kafkaval_delivery_lost_total{" + sel + "})", "{{scenario}}")],
        kind="stat",
        width=6,
        description="Acked and not in the log at the final read: any value above 0 is a failure.",
        thresholds=LOST_LIMIT,
    )
    variables = [
        *scope_vars("kafkaval_delivery_sent_total"),
        query_var("scenario", "scenario", "label_values(kafkaval_delivery_sent_total, scenario)"),
        query_var(
            "group",
            "consumer group",
            'label_values(kafkaval_delivery_group_delivered_total{scenario=~"$scenario"}, group)',
        ),
    ]
    return dashboard(
        "kafkaval-delivery", "Kafka delivery", lay, variables, [faults_annotation(sel)]
    )
