"""Scrape-target registration against the real Prometheus of the local stack."""

from __future__ import annotations

import time

import pytest
from ports import free_port
from prometheus_client import CollectorRegistry, Counter

from kafkaval.config import Settings
from kafkaval.targets import MetricsServer, last_scrape, scrape_target, wait_scraped

pytestmark = pytest.mark.integration

JOB = "kafkaval-target-test"


def test_final_scrape_wait_sees_a_real_good_scrape_and_not_a_failed_one(
    stack_settings: Settings,
) -> None:
    registry = CollectorRegistry()
    Counter("kafkaval_target_probe", "a probe", registry=registry).inc()
    server = MetricsServer(registry, "127.0.0.1", 0)
    try:
        with scrape_target(stack_settings, JOB, "live", f"127.0.0.1:{server.port}"):
            before = time.time()
            assert wait_scraped(stack_settings, JOB, "live", before)
            # The time of the scrape itself, not of the query that asked for it:
            # asked twice 0.3 s apart, it is the same scrape or the next one, a
            # scrape interval later.
            first = last_scrape(stack_settings, JOB, "live")
            time.sleep(0.3)
            second = last_scrape(stack_settings, JOB, "live")
            assert first is not None and second is not None and before < first
            step = second - first
            assert step == 0 or step > stack_settings.scrape_interval / 2, (first, second)
    finally:
        server.close()
    # A target nobody serves is scraped too (up = 0), but that stores no values:
    # the wait must not take it for the final scrape.
    with scrape_target(stack_settings, JOB, "dead", f"127.0.0.1:{free_port()}"):
        assert not wait_scraped(stack_settings, JOB, "dead", time.time())
        assert last_scrape(stack_settings, JOB, "dead") is None
