"""Every PromQL query kafkaval asks, each with a name, in one readable place.

The reports read them all; the performance suite reads the brokers' resource
figures (``loadgen/broker_resources.py``) with the same queries.

Queries are ``string.Template`` texts (PromQL never uses ``$``) with these
placeholders:

- ``$sel``: the label matchers of what is reported on, e.g. ``profile="burst"``;
- ``$window``: the run's window as a range, e.g. ``75s``;
- ``$rate``: the range of ``rate()`` in time series, a few scrape intervals;
- ``$step``: a subquery resolution, the scrape interval;
- ``$q``: a quantile, e.g. ``0.99``.

Window totals use ``max_over_time`` of the counter (the counter's last value)
rather than ``increase``: ``increase`` drops everything counted before the
first scrape of a new series and extrapolates the rest, while every loadgen and
chaos process starts its counters at zero, so the highest value in the window is
the exact total. The same holds for histogram buckets, which keeps the
Prometheus percentiles within the bucket error of the in-process ones.

Metric names are those of docs/metrics.md; ``METRICS`` is the one place that
binds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template

# The metric names the reports read (docs/metrics.md lists their labels and meaning).
METRICS = {
    # loadgen (labels: profile, topic, role; histograms in seconds)
    "service_latency": "kafkaval_loadgen_service_latency_seconds",
    "response_latency": "kafkaval_loadgen_response_latency_seconds",
    "send_delay": "kafkaval_loadgen_send_delay_seconds",
    "e2e_latency": "kafkaval_loadgen_e2e_latency_seconds",
    "sent": "kafkaval_loadgen_messages_sent_total",
    "acked": "kafkaval_loadgen_messages_acked_total",
    "failed": "kafkaval_loadgen_messages_failed_total",
    "consumed": "kafkaval_loadgen_messages_consumed_total",
    "target_rate": "kafkaval_loadgen_target_rate_messages_per_second",
    "rdkafka_rtt": "kafkaval_loadgen_rdkafka_broker_rtt_seconds",
    "rdkafka_queue_latency": "kafkaval_loadgen_rdkafka_queue_latency_seconds",
    "rdkafka_outbuf_latency": "kafkaval_loadgen_rdkafka_outbuf_latency_seconds",
    "rdkafka_queued": "kafkaval_loadgen_rdkafka_queued_messages",
    # chaos and delivery (labels: scenario = the record's scenario key, cluster; group)
    "delivery_sent": "kafkaval_delivery_sent_total",
    "delivery_acked": "kafkaval_delivery_acked_total",
    "delivery_lost": "kafkaval_delivery_lost_total",
    "delivery_duplicates": "kafkaval_delivery_log_duplicates_total",
    "delivery_delivered": "kafkaval_delivery_group_delivered_total",
    "delivery_redeliveries": "kafkaval_delivery_group_redeliveries_total",
    "fault_active": "kafkaval_chaos_fault_active",
    "delivery_ack_latency": "kafkaval_delivery_ack_latency_seconds",
    "cdc_committed": "kafkaval_cdc_changes_committed_total",
    "cdc_consumed": "kafkaval_cdc_events_consumed_total",
    "dbz_behind": "debezium_metrics_MilliSecondsBehindSource",
    # exporter (cAdvisor names; label name = container or process name)
    "cpu": "container_cpu_usage_seconds_total",
    "memory": "container_memory_working_set_bytes",
    "fs_writes": "container_fs_writes_bytes_total",
    "net_rx": "container_network_receive_bytes_total",
    "net_tx": "container_network_transmit_bytes_total",
    # brokers' own view, JMX exporter (job kafka-broker; label instance = broker)
    "b_totaltimems": "kafka_network_requestmetrics_totaltimems",
    "b_requestqueuetimems": "kafka_network_requestmetrics_requestqueuetimems",
    "b_localtimems": "kafka_network_requestmetrics_localtimems",
    "b_remotetimems": "kafka_network_requestmetrics_remotetimems",
    "b_responsequeuetimems": "kafka_network_requestmetrics_responsequeuetimems",
    "b_responsesendtimems": "kafka_network_requestmetrics_responsesendtimems",
    "b_handler_idle": "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_total",
    "b_bytes_in": "kafka_server_brokertopicmetrics_bytesin_total",
    "b_urp": "kafka_server_replicamanager_underreplicatedpartitions",
    "b_gc_time": "jvm_gc_collection_seconds_sum",
}

# The request phases of a Produce, as Kafka's RequestMetrics split them.
BROKER_PHASES = (
    "totaltimems",
    "requestqueuetimems",
    "localtimems",
    "remotetimems",
    "responsequeuetimems",
    "responsesendtimems",
)
_BROKER = 'job="kafka-broker"'
# Label matchers the templates name like metrics ($exporter).
SELECTORS = {"exporter": 'job="exporter"'}


def _broker_phase(phase: str) -> list[Query]:
    """Produce's p99 (the window's highest) and mean (the window's average) of ``phase``, ms."""
    sel = _BROKER + ',request="Produce"'
    return [
        Query(
            f"b_{phase}_p99",
            f'max by (instance) (max_over_time(${{b_{phase}}}{{{sel},quantile="0.99"}}[$window]))',
            f"Produce {phase} p99 per broker, ms (highest of Kafka's decaying p99 in the window)",
        ),
        Query(
            f"b_{phase}_mean",
            f"avg by (instance) (avg_over_time(${{b_{phase}}}_mean{{{sel}}}[$window]))",
            f"Produce {phase} mean per broker, ms (average of Kafka's decaying mean)",
        ),
    ]


@dataclass(frozen=True)
class Query:
    """A named PromQL query template."""

    name: str
    template: str
    help: str

    def render(self, **params: str) -> str:
        """The PromQL text with placeholders filled and metric names bound.

        Raises:
            KeyError: a placeholder has no value.
        """
        return Template(self.template).substitute({**METRICS, **SELECTORS, **params})


def _window_quantile(metric: str) -> str:
    """Quantile $q of histogram ``metric`` over the whole window (see the module doc)."""
    buckets = f"max_over_time(${{{metric}}}_bucket{{$sel}}[$window])"
    return f"histogram_quantile($q, sum by (le) ({buckets}))"


def _q(name: str, template: str, help: str) -> Query:
    return Query(name, template, help)


# Placeholders ``$service_latency`` etc. are metric names from METRICS.
QUERIES: dict[str, Query] = {
    q.name: q
    for q in [
        # ---- performance: totals over the run window, at its end ------------
        _q("sent", "sum(max_over_time(${sent}{$sel}[$window]))", "messages sent"),
        _q("acked", "sum(max_over_time(${acked}{$sel}[$window]))", "messages acked"),
        _q("failed", "sum(max_over_time(${failed}{$sel}[$window]))", "messages failed"),
        _q("consumed", "sum(max_over_time(${consumed}{$sel}[$window]))", "messages consumed"),
        _q("target_rate", "max(max_over_time(${target_rate}{$sel}[$window]))", "target msg/s"),
        # Lag as the loadgen sees it: acked by the broker, not yet consumed back.
        _q(
            "max_lag",
            "max_over_time((sum(${acked}{$sel}) - sum(${consumed}{$sel}))[$window:$step])",
            "peak consumer lag, messages",
        ),
        # ---- performance: percentiles from the histograms ---------------------
        _q(
            "service_quantile",
            _window_quantile("service_latency"),
            "service time (send -> delivery report) quantile, seconds",
        ),
        _q(
            "response_quantile",
            _window_quantile("response_latency"),
            "response time (intended send -> delivery report) quantile, seconds",
        ),
        _q(
            "e2e_quantile",
            _window_quantile("e2e_latency"),
            "end-to-end (message timestamp -> consumed) quantile, seconds",
        ),
        _q(
            "send_delay_quantile",
            _window_quantile("send_delay"),
            "send delay (intended -> actual send) quantile, seconds",
        ),
        _q(
            "outbuf_latency_max",
            "max(max_over_time(${rdkafka_outbuf_latency}{$sel}[$window]))",
            "librdkafka outbuf latency peak, seconds",
        ),
        # ---- performance: series for charts -------------------------------------
        _q("acked_rate_series", "sum(rate(${acked}{$sel}[$rate]))", "acked msg/s over time"),
        _q("target_rate_series", "max(${target_rate}{$sel})", "target msg/s over time"),
        _q(
            "service_quantile_series",
            "histogram_quantile($q, sum by (le) (rate(${service_latency}_bucket{$sel}[$rate])))",
            "service time quantile over time",
        ),
        _q(
            "e2e_quantile_series",
            "histogram_quantile($q, sum by (le) (rate(${e2e_latency}_bucket{$sel}[$rate])))",
            "end-to-end quantile over time",
        ),
        # ---- resources of each container or process, over the window ----------
        # Only kafkaval's own exporter ($exporter): a Prometheus that also
        # scrapes cAdvisor holds the same names for the same containers, and a
        # sum over both would count each container twice.
        # Average and peak are the mean and the maximum of one series per name
        # (the CPU rate over $rate, every $step of the window, summed over the
        # name's series: a restarted process or container has a new id):
        # avg <= peak by construction, and a gap in the samples leaves both
        # without those steps instead of one spanning it and the other not.
        _q(
            "cpu_avg",
            "avg_over_time(sum by (name) (rate(${cpu}{$exporter}[$rate]))[$window:$step])",
            "average CPU, cores",
        ),
        _q(
            "cpu_peak",
            "max_over_time(sum by (name) (rate(${cpu}{$exporter}[$rate]))[$window:$step])",
            "peak CPU, cores",
        ),
        # Gaps: the samples a series has in the window against the span from its
        # first to its last one (a process that started late has a short span,
        # not a gap; a restarted Prometheus or exporter leaves fewer samples).
        _q(
            "cpu_samples",
            "max by (name) (count_over_time(${cpu}{$exporter}[$window]))",
            "CPU samples scraped in the window",
        ),
        _q(
            "cpu_span",
            "max by (name) (max_over_time(timestamp(${cpu}{$exporter})[$window:$step])"
            " - min_over_time(timestamp(${cpu}{$exporter})[$window:$step]))",
            "seconds from the first to the last CPU sample in the window",
        ),
        _q(
            "memory_peak",
            "max by (name) (max_over_time(${memory}{$exporter}[$window]))",
            "peak memory",
        ),
        _q(
            "disk_write_rate",
            "sum by (name) (rate(${fs_writes}{$exporter}[$window]))",
            "disk write B/s",
        ),
        _q(
            "network_rate",
            "sum by (name) (rate(${net_rx}{$exporter}[$window]))"
            " + sum by (name) (rate(${net_tx}{$exporter}[$window]))",
            "network receive + transmit B/s",
        ),
        _q(
            "cpu_seconds",
            "sum by (name) (increase(${cpu}{$exporter}[$window]))",
            "CPU seconds used",
        ),
        _q(
            "disk_written",
            "sum by (name) (increase(${fs_writes}{$exporter}[$window]))",
            "bytes written",
        ),
        _q(
            "broker_gc_seconds",
            'sum(increase(${b_gc_time}{job="kafka-broker"}[$window]))',
            "GC seconds of all brokers",
        ),
        _q("cpu_series", "sum by (name) (rate(${cpu}{$exporter}[$rate]))", "CPU cores over time"),
        _q("memory_series", "max by (name) (${memory}{$exporter})", "memory bytes over time"),
        # ---- the brokers' side of a window (JMX exporter), per broker -------------
        *[q for phase in BROKER_PHASES for q in _broker_phase(phase)],
        _q(
            "b_scraped",
            f"max by (instance) (max_over_time(up{{{_BROKER}}}[$window]))",
            "1 if the broker's JMX exporter was scraped in the window",
        ),
        _q(
            "b_handler_idle",
            f"sum by (instance) (rate(${{b_handler_idle}}{{{_BROKER}}}[$window])) / 1e9",
            "request handler pool idle fraction over the window",
        ),
        _q(
            "b_bytes_in",
            f'sum by (instance) (rate(${{b_bytes_in}}{{{_BROKER},topic=""}}[$window]))',
            "bytes produced to the broker per second (all topics)",
        ),
        _q(
            "b_urp_max",
            f"max by (instance) (max_over_time(${{b_urp}}{{{_BROKER}}}[$window]))",
            "highest under-replicated partition count in the window",
        ),
        _q(
            "b_gc",
            f"sum by (instance) (rate(${{b_gc_time}}{{{_BROKER}}}[$window]))",
            "fraction of the window the broker's JVM spent in GC",
        ),
        # ---- the cluster's view of a delivery scenario (brokers' JMX series) -----
        _q(
            "c_urp_series",
            f"sum(${{b_urp}}{{{_BROKER}}})",
            "under-replicated partitions, all brokers, over time",
        ),
        _q("c_up_series", f"sum(up{{{_BROKER}}})", "brokers whose JMX exporter answered"),
        _q(
            "c_isr_shrinks",
            f"sum(increase(kafka_server_replicamanager_isrshrinks_total{{{_BROKER}}}[$window]))",
            "ISR shrinks in the window, all brokers",
        ),
        _q(
            "c_isr_expands",
            f"sum(increase(kafka_server_replicamanager_isrexpands_total{{{_BROKER}}}[$window]))",
            "ISR expands in the window, all brokers",
        ),
        _q(
            "c_leader_changes",
            f"sum(changes(kafka_server_replicamanager_leadercount{{{_BROKER}}}[$window]))",
            "changes of the brokers' partition-leader counts (leadership moving)",
        ),
        _q(
            "c_controller_changes",
            f"max(changes(kafka_server_raftmetrics_current_leader{{{_BROKER}}}[$window]))",
            "changes of the KRaft controller leader, as the nodes saw it",
        ),
        # ---- delivery: counters per scenario ---------------------------------------
        _q("d_sent", "sum(max_over_time(${delivery_sent}{$sel}[$window]))", "scenario sent"),
        _q("d_acked", "sum(max_over_time(${delivery_acked}{$sel}[$window]))", "scenario acked"),
        _q(
            "cdc_committed",
            "sum(max_over_time(${cdc_committed}{$sel}[$window]))",
            "CDC changes committed (connector-restart's acked)",
        ),
        _q(
            "cdc_consumed",
            "sum(max_over_time(${cdc_consumed}{$sel}[$window]))",
            "CDC change events consumed",
        ),
        _q(
            "dbz_behind_max",
            'max(max_over_time(${dbz_behind}{context="streaming",$sel}[$window]) >= 0) / 1000',
            "Debezium's largest lag behind the database in the window, seconds (its -1, "
            "no change seen yet, left out); $sel: name, the connector's topic.prefix",
        ),
        _q("d_lost", "sum(max_over_time(${delivery_lost}{$sel}[$window]))", "scenario lost"),
        _q(
            "d_duplicates",
            "sum(max_over_time(${delivery_duplicates}{$sel}[$window]))",
            "scenario log duplicates",
        ),
        _q(
            "d_redeliveries",
            "sum(max_over_time(${delivery_redeliveries}{$sel}[$window]))",
            "scenario redeliveries (all groups)",
        ),
        _q(
            "d_acked_rate_series",
            "sum(rate(${delivery_acked}{$sel}[$rate]))",
            "scenario acked msg/s over time",
        ),
        _q(
            "d_ack_quantile_series",
            "histogram_quantile($q, sum by (le) "
            "(rate(${delivery_ack_latency}_bucket{$sel}[$rate])))",
            "scenario ack latency quantile over time",
        ),
        _q(
            "d_fault_series",
            "max(${fault_active}{$sel})",
            "1 while a fault of the scenario is active",
        ),
    ]
}


def render(name: str, **params: str) -> str:
    """The PromQL of query ``name`` with ``params`` filled in.

    Raises:
        KeyError: unknown query name or a missing placeholder.
    """
    return QUERIES[name].render(**params)


def duration(seconds: float) -> str:
    """A PromQL duration for ``seconds`` (whole seconds, at least 1s)."""
    return f"{max(1, round(seconds))}s"


def matchers(**labels: str) -> str:
    """Label matchers ``a="x",b="y"`` with values escaped for PromQL strings."""
    return ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
