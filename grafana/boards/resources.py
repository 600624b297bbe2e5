"""The resources dashboard: CPU, memory, disk and network per container or process."""

from __future__ import annotations

from typing import Any

from .panels import SCOPE, Layout, dashboard, query_var, scope_vars


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
        *scope_vars("container_cpu_usage_seconds_total", job="exporter"),
        query_var(
            "container",
            "container / process",
            'label_values(container_cpu_usage_seconds_total{job=~"$job"}, name)',
        ),
    ]
    return dashboard("kafkaval-resources", "Kafka resources", lay, variables)
