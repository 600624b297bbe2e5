"""The named PromQL queries of kafkaval/promql.py, as text."""

from __future__ import annotations

import re

from kafkaval.promql import QUERIES


def test_container_queries_read_only_kafkaval_s_exporter() -> None:
    """A Prometheus that also scrapes cAdvisor has the same container series
    under another job: every query of them selects ours, or a sum would count
    each container twice."""
    params = {"window": "1m", "rate": "30s", "step": "5s", "sel": "", "q": "0.99"}
    names = ("container_cpu", "container_memory", "container_fs", "container_network")
    checked = 0
    for query in QUERIES.values():
        try:
            text = query.render(**params)
        except KeyError:
            continue  # needs placeholders of its own; none of those reads containers
        for use in re.finditer(r"(container_\w+)(\{[^}]*\})?", text):
            if use.group(1).startswith(names):
                checked += 1
                assert use.group(2) and 'job="exporter"' in use.group(2), (query.name, text)
    assert checked >= 10
