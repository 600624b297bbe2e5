"""The Kafka cluster dashboard: the brokers' own view (JMX exporter) and group lag."""

from __future__ import annotations

from typing import Any

from .panels import Layout, dashboard, faults_annotation, query_var

BROKER = 'job="kafka-broker",instance=~"$instance"'


def _phases(request: str) -> list[tuple[str, str]]:
    """Kafka's p99 of each phase of ``request`` per broker (recording rules in kafka.yml)."""
    return [
        (
            f"instance_request:kafka_network_requestmetrics_{phase}:p99"
            f'{{request="{request}",instance=~"$instance"}}',
            "{{instance}} " + label,
        )
        for phase, label in (
            ("totaltimems", "total"),
            ("requestqueuetimems", "queue"),
            ("localtimems", "local"),
            ("remotetimems", "remote"),
        )
    ]


def _broker_rate(metric: str, extra: str = "") -> str:
    sel = BROKER + extra
    return f"sum by (instance) (rate({metric}{{{sel}}}[$__rate_interval]))"


def kafka_cluster_dashboard() -> dict[str, Any]:
    """The brokers' own view (JMX exporter, prometheus/jmx/kafka-broker.yml) and group lag."""
    lay = Layout()
    lay.row("Cluster")
    lay.panel(
        "Brokers up",
        [
            ('sum(up{job="kafka-broker"})', "brokers scraped"),
            ("max by (instance) (up{" + BROKER + "})", "{{instance}}"),
        ],
        description="1 = the broker's JMX exporter answered the last scrape.",
    )
    lay.panel(
        "Active controller",
        [
            (
                'sum(kafka_controller_kafkacontroller_activecontrollercount{job="kafka-broker"})',
                "active controllers (must be 1)",
            ),
            (
                "max by (instance) (kafka_controller_kafkacontroller_activecontrollercount{"
                + BROKER
                + "})",
                "{{instance}}",
            ),
        ],
    )
    lay.panel(
        "Under-replicated / offline partitions",
        [
            (
                "sum by (instance) (kafka_server_replicamanager_underreplicatedpartitions{"
                + BROKER
                + "})",
                "{{instance}} under-replicated",
            ),
            (
                'sum(kafka_controller_kafkacontroller_offlinepartitionscount{job="kafka-broker"})',
                "offline",
            ),
        ],
        description="URP > 0: a follower is missing from the ISR; offline > 0: no leader at all.",
    )
    lay.panel(
        "ISR shrinks / expands",
        [
            (_broker_rate("kafka_server_replicamanager_isrshrinks_total"), "{{instance}} shrinks"),
            (_broker_rate("kafka_server_replicamanager_isrexpands_total"), "{{instance}} expands"),
        ],
        unit="ops",
    )
    lay.row("Throughput")
    lay.panel(
        "Bytes in / out",
        [
            (
                _broker_rate("kafka_server_brokertopicmetrics_bytesin_total", ',topic=""'),
                "{{instance}} in",
            ),
            (
                _broker_rate("kafka_server_brokertopicmetrics_bytesout_total", ',topic=""'),
                "{{instance}} out",
            ),
        ],
        unit="Bps",
        description="All topics, replication excluded.",
    )
    lay.panel(
        "Messages in",
        [
            (
                _broker_rate("kafka_server_brokertopicmetrics_messagesin_total", ',topic=""'),
                "{{instance}}",
            )
        ],
        unit="msg/s",
    )
    lay.row("Requests")
    lay.panel(
        "Produce and Fetch requests",
        [
            (
                'instance_request:kafka_network_requests:rate30s{instance=~"$instance",'
                'request=~"Produce|FetchConsumer|FetchFollower"}',
                "{{instance}} {{request}}",
            ),
        ],
        unit="reqps",
    )
    lay.panel(
        "Produce p99 per phase",
        _phases("Produce"),
        unit="ms",
        description="Kafka's own p99 (decaying sample of ~5 min). queue: waiting for a "
        "request handler; local: the leader's append (disk); remote: waiting for followers "
        "(acks=all).",
    )
    lay.panel(
        "Fetch (consumer) p99 per phase",
        _phases("FetchConsumer"),
        unit="ms",
        description="remote = waiting in purgatory for fetch.min.bytes / fetch.max.wait.ms.",
    )
    lay.panel(
        "Request handler / network processor idle",
        [
            (
                'instance:kafka_server_request_handler_idle:ratio_rate30s{instance=~"$instance"}',
                "{{instance}} request handlers",
            ),
            (
                "max by (instance) (kafka_network_socketserver_networkprocessoravgidle_percent{"
                + BROKER
                + "})",
                "{{instance}} network processors",
            ),
        ],
        unit="percentunit",
        description="Below 0.3: the pool is saturated (more num.io.threads / "
        "num.network.threads, or fewer competing processes on the host).",
    )
    lay.row("Disk and JVM")
    lay.panel(
        "Log flush p99",
        [
            (
                "max by (instance) (kafka_log_logflushstats_logflushrateandtimems{"
                + BROKER
                + ',quantile="0.99"})',
                "{{instance}}",
            )
        ],
        unit="ms",
    )
    lay.panel(
        "JVM heap",
        [
            (
                "max by (instance) (jvm_memory_used_bytes{" + BROKER + ',area="heap"})',
                "{{instance}} used",
            ),
            (
                "max by (instance) (jvm_memory_max_bytes{" + BROKER + ',area="heap"})',
                "{{instance}} max",
            ),
        ],
        unit="bytes",
    )
    lay.panel(
        "GC time",
        [('instance:jvm_gc_time:ratio_rate30s{instance=~"$instance"}', "{{instance}}")],
        unit="percentunit",
        description="Fraction of wall time in GC pauses.",
    )
    lay.row("Consumer groups")
    lay.panel(
        "Lag per group and topic",
        [
            (
                "sum by (consumergroup, topic) (kafka_consumergroup_lag)",
                "{{consumergroup}} {{topic}}",
            )
        ],
        description="End offset minus committed offset (exporter --consumer-lag); groups with "
        "members now or in the last 10 minutes.",
    )
    variables = [
        query_var("instance", "broker", 'label_values(up{job="kafka-broker"}, instance)'),
    ]
    return dashboard(
        "kafkaval-kafka-cluster", "Kafka cluster", lay, variables, [faults_annotation()]
    )
