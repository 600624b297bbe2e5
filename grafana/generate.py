"""Generate the Grafana dashboards in grafana/dashboards/*.json.

The JSON is generated, not hand-edited, so every panel's PromQL stays readable
here. Every panel's datasource is the ``datasource`` template variable, whose
default is the provisioned datasource's pinned uid: the files work as they are
with the provisioning here, and a user who imports one into their own Grafana
picks their Prometheus in the variable (``__inputs`` would not do: file
provisioning does not resolve them). ``job`` and ``instance`` variables narrow
every query to the scrape targets wanted (a Prometheus that also scrapes
cAdvisor holds the same container series under another job).
Regenerate after a change: ``python grafana/generate.py``; a unit test checks
the committed files equal the output.

Metric names: docs/metrics.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DASHBOARDS = HERE / "dashboards"
# Pinned in provisioning/datasources/prometheus.yml: the datasource variable's default.
DATASOURCE_UID = "kafkaval-prometheus"
DS = {"type": "prometheus", "uid": "${datasource}"}
# Every query's scrape-target filter (the job and instance variables).
SCOPE = 'job=~"$job",instance=~"$instance"'

LOADGEN = "kafkaval_loadgen_"
# The project's limits, drawn on the panels that show them (loadgen/profiles.py,
# chaos bounds): p95 service latency under 100 ms; no acked message lost.
P95_LIMIT_SECONDS = 0.1
Thresholds = list[tuple[float | None, str]]
LATENCY_LIMIT: Thresholds = [(None, "green"), (P95_LIMIT_SECONDS, "red")]
LOST_LIMIT: Thresholds = [(None, "green"), (1, "red")]  # counts: > 0 is >= 1
# A verdict gauge (1 passed, 0 failed) shown as words.
PASS_FAIL = [
    {
        "type": "value",
        "options": {
            "1": {"text": "PASS", "color": "green", "index": 0},
            "0": {"text": "FAIL", "color": "red", "index": 1},
        },
    }
]


def _target(expr: str, legend: str, ref: str, fmt: str = "time_series") -> dict[str, Any]:
    return {
        "datasource": DS,
        "expr": expr,
        "legendFormat": legend,
        "refId": ref,
        "format": fmt,
    }


class Layout:
    """Places panels on Grafana's 24-column grid, two per row, and numbers them."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.x = 0
        self.y = 0

    def row(self, title: str) -> None:
        self.y += 0 if self.x == 0 else 8
        self.x = 0
        self.panels.append(
            {
                "type": "row",
                "title": title,
                "id": len(self.panels) + 1,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.y += 1

    def panel(
        self,
        title: str,
        targets: list[tuple[str, str]],
        unit: str = "short",
        kind: str = "timeseries",
        description: str = "",
        width: int = 12,
        thresholds: Thresholds | None = None,
        mappings: list[dict[str, Any]] | None = None,
    ) -> None:
        """Add a panel; ``thresholds`` (value, color) steps are drawn as lines on graphs
        and color stats; ``mappings`` turn values into words (PASS_FAIL)."""
        if self.x + width > 24:
            self.x, self.y = 0, self.y + 8
        refs = "ABCDEFGH"
        panel: dict[str, Any] = {
            "type": kind,
            "title": title,
            "description": description,
            "id": len(self.panels) + 1,
            "datasource": DS,
            "gridPos": {"h": 8, "w": width, "x": self.x, "y": self.y},
            "targets": [
                _target(expr, legend, refs[i], "heatmap" if kind == "heatmap" else "time_series")
                for i, (expr, legend) in enumerate(targets)
            ],
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        }
        defaults = panel["fieldConfig"]["defaults"]
        if thresholds:
            defaults["thresholds"] = {
                "mode": "absolute",
                "steps": [{"value": v, "color": c} for v, c in thresholds],
            }
            if kind == "timeseries":
                defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
        if mappings:
            defaults["mappings"] = mappings
        if kind == "heatmap":
            panel["options"] = {
                "calculate": False,
                "yAxis": {"unit": unit},
                "color": {"mode": "scheme", "scheme": "Oranges"},
            }
        self.panels.append(panel)
        self.x += width
        if self.x >= 24:
            self.x, self.y = 0, self.y + 8


def _faults(sel: str = "") -> dict[str, Any]:
    """An annotation over every active chaos fault (matching label selector ``sel``):
    the delivery dashboard, and the cluster dashboards, where a broker-side blip
    shows next to the fault that caused it."""
    return {
        "name": "Faults",
        "datasource": DS,
        "enable": True,
        "iconColor": "red",
        "expr": "max by (scenario, kind, target) (kafkaval_chaos_fault_active{" + sel + "}) > 0",
        "step": "2s",
        "titleFormat": "{{kind}} on {{target}}",
        "tagKeys": "scenario,kind",
        "textFormat": "fault active",
        "useValueForTime": False,
    }


def _datasource_var() -> dict[str, Any]:
    """The Prometheus every panel queries: the provisioned one, or the user's pick."""
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "Prometheus",
        "query": "prometheus",
        "current": {"text": "kafkaval Prometheus", "value": DATASOURCE_UID},
        "includeAll": False,
        "multi": False,
        "refresh": 1,
        "regex": "",
        "hide": 0,
    }


def _scope_vars(metric: str, job: str | None = None) -> list[dict[str, Any]]:
    """``job`` and ``instance`` from the targets that serve ``metric``.

    Args:
        job: preselected job (else All), e.g. the exporter's where cAdvisor may
            serve the same series under another job.
    """
    jobs = _query_var("job", "job", f"label_values({metric}, job)")
    if job:
        jobs["current"] = {"text": job, "value": [job]}
    instances = _query_var(
        "instance", "instance", f'label_values({metric}{{job=~"$job"}}, instance)'
    )
    return [jobs, instances]


def _query_var(name: str, label: str, query: str, include_all: bool = True) -> dict[str, Any]:
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "query": {"query": query, "refId": f"{name}-var"},
        "definition": query,
        "refresh": 2,  # on time range change: new runs bring new label values
        "includeAll": include_all,
        "allValue": ".*",
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
    }


def _dashboard(
    uid: str,
    title: str,
    layout: Layout,
    variables: list[dict[str, Any]],
    annotations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "uid": uid,
        "title": title,
        "tags": ["kafkaval"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "5s",
        "time": {"from": "now-15m", "to": "now"},
        "templating": {"list": [_datasource_var(), *variables]},
        "annotations": {"list": [builtin, *(annotations or [])]},
        # Every kafkaval dashboard (tag) one click away, on the same time range:
        # the client's view next to the cluster's.
        "links": [
            {
                "type": "dashboards",
                "tags": ["kafkaval"],
                "asDropdown": True,
                "title": "kafkaval dashboards",
                "keepTime": True,
                "includeVars": False,
            }
        ],
        "panels": layout.panels,
    }


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
    sel = f'profile=~"$profile",{SCOPE}'
    tsel = f'profile=~"$profile",topic=~"$topic",{SCOPE}'
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
        *_scope_vars(f"{LOADGEN}messages_sent_total"),
        _query_var("profile", "profile", f"label_values({LOADGEN}messages_sent_total, profile)"),
        _query_var(
            "topic",
            "topic",
            f'label_values({LOADGEN}messages_sent_total{{profile=~"$profile"}}, topic)',
        ),
    ]
    return _dashboard("kafkaval-load", "Kafka load", lay, variables)


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
        *_scope_vars("kafkaval_delivery_sent_total"),
        _query_var("scenario", "scenario", "label_values(kafkaval_delivery_sent_total, scenario)"),
        _query_var(
            "group",
            "consumer group",
            'label_values(kafkaval_delivery_group_delivered_total{scenario=~"$scenario"}, group)',
        ),
    ]
    return _dashboard("kafkaval-delivery", "Kafka delivery", lay, variables, [_faults(sel)])


def resources_dashboard() -> dict[str, Any]:
    sel = f'name=~"$container",{SCOPE}'
    lay = Layout()
    lay.row("Per container or process")
    lay.panel(
        "CPU (cores)",
        [
            (
                "sum by (name) (rate(container_cpu_usage_seconds_total{"
                + sel
                + "}[$__rate_interval]))",
                "{{name}}",
            )
        ],
        unit="short",
        description="1.0 = one full core, as docker stats counts 100%.",
    )
    lay.panel(
        "Memory working set",
        [
            ("max by (name) (container_memory_working_set_bytes{" + sel + "})", "{{name}}"),
            (
                "max by (name) (container_spec_memory_limit_bytes{" + sel + "} > 0)",
                "{{name}} limit",
            ),
        ],
        unit="bytes",
    )
    lay.panel(
        "Network receive / transmit",
        [
            (
                "sum by (name) (rate(container_network_receive_bytes_total{"
                + sel
                + "}[$__rate_interval]))",
                "{{name}} rx",
            ),
            (
                "sum by (name) (rate(container_network_transmit_bytes_total{"
                + sel
                + "}[$__rate_interval]))",
                "{{name}} tx",
            ),
        ],
        unit="Bps",
        description="Local processes share the host network namespace: no per-process series.",
    )
    lay.panel(
        "Disk read / write",
        [
            (
                "sum by (name) (rate(container_fs_writes_bytes_total{"
                + sel
                + "}[$__rate_interval]))",
                "{{name}} write",
            ),
            (
                "sum by (name) (rate(container_fs_reads_bytes_total{"
                + sel
                + "}[$__rate_interval]))",
                "{{name}} read",
            ),
        ],
        unit="Bps",
    )
    lay.panel(
        "Running (1) / stopped (0)",
        [("max by (name) (kafkaval_container_running{" + sel + "})", "{{name}}")],
    )
    variables = [
        # The exporter's job preselected: cAdvisor's series carry the same names.
        *_scope_vars("container_cpu_usage_seconds_total", job="exporter"),
        _query_var(
            "container",
            "container / process",
            'label_values(container_cpu_usage_seconds_total{job=~"$job"}, name)',
        ),
    ]
    return _dashboard("kafkaval-resources", "Kafka resources", lay, variables)


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
        _query_var("instance", "broker", 'label_values(up{job="kafka-broker"}, instance)'),
    ]
    return _dashboard("kafkaval-kafka-cluster", "Kafka cluster", lay, variables, [_faults()])


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
    variables = [
        _query_var(
            "connector", "connector", "label_values(kafka_connect_connector_task_status, connector)"
        ),
    ]
    return _dashboard("kafkaval-connect", "Connect & Debezium", lay, variables, [_faults()])


ALL = {
    "load.json": load_dashboard,
    "delivery.json": delivery_dashboard,
    "resources.json": resources_dashboard,
    "kafka-cluster.json": kafka_cluster_dashboard,
    "connect.json": connect_dashboard,
}


def render_all() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: json.dumps(build(), indent=2) + "\n" for name, build in ALL.items()}


if __name__ == "__main__":
    DASHBOARDS.mkdir(exist_ok=True)
    for name, text in render_all().items():
        (DASHBOARDS / name).write_text(text)
        print(f"wrote {DASHBOARDS / name}")
