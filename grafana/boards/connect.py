"""The Connect & Debezium dashboard."""

from __future__ import annotations

from typing import Any

from .panels import Layout, dashboard, faults_annotation, query_var


def connect_dashboard() -> dict[str, Any]:
    """The Connect worker and Debezium (prometheus/jmx/kafka-connect.yml)."""
    sel = 'connector=~"$connector"'
    lay = Layout()
    lay.row("Connect")
    lay.panel(
        "Task states",
        [
            (
                "max by (connector, task, status) (kafka_connect_connector_task_status{"
                + sel
                + "})",
                "{{connector}}/{{task}} {{status}}",
            )
        ],
        description="1 on the current state; anything but running stops change events.",
    )
    lay.panel(
        "Records polled / written",
        [
            (
                "sum by (connector) (rate(kafka_connect_source_task_source_record_poll_total{"
                + sel
                + "}[$__rate_interval]))",
                "{{connector}} polled",
            ),
            (
                "sum by (connector) (rate(kafka_connect_source_task_source_record_write_total{"
                + sel
                + "}[$__rate_interval]))",
                "{{connector}} written",
            ),
        ],
        unit="ops",
    )
    lay.panel(
        "Connector and task (re)starts",
        [
            (
                'max(kafka_connect_worker_connector_startup_attempts_total{job="kafka-connect"})',
                "connector starts",
            ),
            (
                'max(kafka_connect_worker_task_startup_attempts_total{job="kafka-connect"})',
                "task starts",
            ),
        ],
        description="Cumulative since the worker started; each restart adds one.",
    )
    lay.row("Debezium")
    lay.panel(
        "Change events/s",
        [
            (
                "sum by (name) (rate(debezium_metrics_TotalNumberOfEventsSeen{"
                'context="streaming"}[$__rate_interval]))',
                "{{name}}",
            )
        ],
        unit="ops",
    )
    lay.panel(
        "Behind source",
        [
            (
                'max by (name) (debezium_metrics_MilliSecondsBehindSource{context="streaming"})',
                "{{name}} last event",
            ),
            (
                'max by (name) (debezium_metrics_MilliSecondsBehindSourceP99{context="streaming"})',
                "{{name}} p99",
            ),
        ],
        unit="ms",
        description="Commit in PostgreSQL -> processed by Debezium.",
    )
    lay.panel(
        "Queue remaining / total capacity",
        [
            (
                'max by (name) (debezium_metrics_QueueRemainingCapacity{context="streaming"})',
                "{{name}} remaining",
            ),
            (
                'max by (name) (debezium_metrics_QueueTotalCapacity{context="streaming"})',
                "{{name}} total",
            ),
        ],
        description="Remaining near 0: Kafka (the producer side) is the bottleneck.",
    )
    lay.panel(
        "Snapshot progress",
        [
            (
                'max by (name) (debezium_metrics_TotalTableCount{context="snapshot"})',
                "{{name}} tables",
            ),
            (
                'max by (name) (debezium_metrics_RemainingTableCount{context="snapshot"})',
                "{{name}} remaining",
            ),
            (
                'sum by (name) (debezium_metrics_RowsScanned{context="snapshot"})',
                "{{name}} rows scanned",
            ),
        ],
    )
    # The pipeline end to end, as kafkaval's own cdc runs (snapshot, load,
    # connector-restart) measure it: every change committed and read back.
    run = 'scenario=~"$scenario"'
    lay.row("kafkaval cdc runs")
    lay.panel(
        "Changes committed / events consumed",
        [
            (
                f"sum by (scenario) (rate(kafkaval_cdc_changes_committed_total{{{run}}}"
                "[$__rate_interval]))",
                "{{scenario}} committed in PostgreSQL",
            ),
            (
                f"sum by (scenario) (rate(kafkaval_cdc_events_consumed_total{{{run}}}"
                "[$__rate_interval]))",
                "{{scenario}} consumed from Kafka",
            ),
        ],
        unit="ops",
        description="The driver's commits and the change events read back; "
        "a lasting gap is lag, the run's record says whether each change arrived.",
    )
    lay.panel(
        "End-to-end latency (commit -> consumed)",
        [
            (
                f"histogram_quantile({q}, sum by (le, scenario) "
                f"(rate(kafkaval_cdc_e2e_latency_seconds_bucket{{{run}}}[$__rate_interval])))",
                f"{{{{scenario}}}} p{label}",
            )
            for q, label in (("0.5", "50"), ("0.99", "99"))
        ],
        unit="s",
        description="From source.ts_ms (the commit in PostgreSQL) to the consumer, live.",
    )
    variables = [
        query_var(
            "connector", "connector", "label_values(kafka_connect_connector_task_status, connector)"
        ),
        query_var(
            "scenario", "cdc run", "label_values(kafkaval_cdc_events_consumed_total, scenario)"
        ),
    ]
    return dashboard(
        "kafkaval-connect", "Connect & Debezium", lay, variables, [faults_annotation()]
    )
