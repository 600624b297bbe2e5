"""The Grafana dashboards as code: one module per dashboard, the shared panel
builders in ``panels``. ``grafana/generate.py`` writes them to grafana/dashboards/."""

from __future__ import annotations

import json

from .connect import connect_dashboard
from .delivery import delivery_dashboard
from .kafka_cluster import kafka_cluster_dashboard
from .load import load_dashboard
from .resources import resources_dashboard

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
