"""Container-stats exporter: Docker (or local process) resource use as Prometheus metrics.

Metric names and labels follow cAdvisor (``container_cpu_usage_seconds_total``
with ``name``, ``image``) so existing dashboards and PromQL habits work; the
compose service is an extra ``compose_service`` label. Stats are gathered in a
background sampler and each scrape serves the last sample (see ``sampler.py``).
"""
