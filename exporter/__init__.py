"""Container-stats exporter: Docker (or local process) resource use as Prometheus metrics.

Metric names and labels follow cAdvisor (``container_cpu_usage_seconds_total``
with ``name``, ``id``, ``image``, ``container_label_com_docker_compose_service``,
``interface``/``device``) so existing dashboards and PromQL habits work. Stats are gathered in a
background sampler and each scrape serves the last sample (see ``sampler.py``).
"""
