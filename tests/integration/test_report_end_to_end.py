"""Real QUICK runs, then `kafkaval report` against the real Prometheus.

The reports must carry the run's numbers, agree with the run records (totals
exactly, percentiles within the histogram's stated 4% bound), and a Prometheus
that is down must give one clean line, exit 1 and leave the old reports intact.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from ports import free_port
from report_runs import DELIVERY_SCENARIO, PERF_PROFILE, kafkaval, run_once

from kafkaval.config import Settings
from kafkaval.prom_client import PromClient
from kafkaval.prom_queries import Window

pytestmark = pytest.mark.integration

# docs/metrics.md: histogram_quantile is within 4% of the exact percentile; the
# report prints 3 significant digits, which adds up to 0.5% of rounding.
PERCENTILE_BOUND = 0.045


@pytest.fixture(scope="module")
def reports(stack_settings: Settings) -> Path:
    runs = run_once(stack_settings)
    result = kafkaval(runs.settings, "report", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr + str(runs.outputs)
    reports = runs.settings.path("reports_dir")
    if os.environ.get("KAFKAVAL_KEEP_REPORTS"):  # to read what a real run renders
        shutil.copytree(reports, os.environ["KAFKAVAL_KEEP_REPORTS"], dirs_exist_ok=True)
    return reports


def _row(text: str, first_cells: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.startswith(f"| {first_cells} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_performance_report_has_the_runs_numbers(reports: Path, stack_settings: Settings) -> None:
    runs = run_once(stack_settings)
    text = (reports / "performance-baseline.md").read_text()
    entry = runs.perf["profiles"][PERF_PROFILE]
    assert runs.perf["run_id"] in text
    assert f"### {PERF_PROFILE}" in text
    assert f"acked {entry['acked']:,}" in text
    # Every total agrees with the run record (none marked **NO**).
    # (the first such row is the summary table's)
    checks = [ln for ln in text.splitlines() if ln.startswith(f"| {PERF_PROFILE} | ")][1:]
    assert {c.split("|")[2].strip() for c in checks} == {"sent", "acked", "failed", "consumed"}
    assert all("| yes |" in c for c in checks), text
    # Prometheus percentiles within the stated bound of the exact ones.
    for kind, field in (("service", "service_latency_seconds"), ("e2e", "e2e_latency_seconds")):
        prom = _row(text, f"{kind} (Prometheus)")
        for col, q in ((1, "p50"), (2, "p95"), (3, "p99")):
            exact_ms = entry[field][q] * 1000
            if exact_ms < 0.5:
                continue  # below the histogram's bounded range
            got = float(prom[col].replace(",", ""))
            assert abs(got - exact_ms) <= PERCENTILE_BOUND * exact_ms, (kind, q, got, text)
    assert re.search(r"\| broker-1 \| \d+% \| \d+% \| [\d.]+ MiB", text), text
    # The CPU average is the mean of the series whose maximum is the peak.
    whole = text.split("## Resource usage over the whole run", 1)[1].split("\n## ", 1)[0]
    cpu = re.findall(r"^\| [^|]+ \| (\d+)% \| (\d+)% \|", whole, flags=re.M)
    assert cpu and all(int(avg) <= int(peak) for avg, peak in cpu), whole
    assert (reports / f"performance-{PERF_PROFILE}.png").read_bytes()[:4] == b"\x89PNG"


def test_performance_report_broker_side_agrees_with_prometheus(
    reports: Path, stack_settings: Settings
) -> None:
    """The broker table of the profile is what Prometheus answers for the brokers' own
    series over the profile's window (queries written out here, not the report's)."""
    runs = run_once(stack_settings)
    text = (reports / "performance-baseline.md").read_text()
    section = re.split(r"\n##+ ", text.split(f"### {PERF_PROFILE}\n", 1)[1], maxsplit=1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("| broker-1 |")]
    # The broker table's row (9 cells), not the resources table's (6).
    (broker,) = [
        cells
        for cells in ([c.strip() for c in r.strip("|").split("|")] for r in rows)
        if len(cells) == 9
    ]
    w = Window.of(runs.perf["profiles"][PERF_PROFILE], None, stack_settings.scrape_interval)
    span = f"{max(1, round(w.seconds))}s"
    prom = PromClient(stack_settings.prometheus_url)

    def direct(expr: str) -> float:
        (sample,) = prom.query(expr, at=w.end)
        return sample.value

    sel = 'job="kafka-broker",instance="broker-1",request="Produce",quantile="0.99"'
    total = direct(f"max_over_time(kafka_network_requestmetrics_totaltimems{{{sel}}}[{span}])")
    local = direct(f"max_over_time(kafka_network_requestmetrics_localtimems{{{sel}}}[{span}])")
    urp = direct(
        "max_over_time(kafka_server_replicamanager_underreplicatedpartitions"
        f'{{job="kafka-broker",instance="broker-1"}}[{span}])'
    )
    assert broker[1] == f"{total:,.1f}" and broker[3] == f"{local:,.1f}", (broker, total, local)
    assert broker[7] == f"{urp:,.0f}" == "0"
    assert "Where the time went: a Produce took" in section


def test_delivery_report_has_the_runs_numbers(reports: Path, stack_settings: Settings) -> None:
    runs = run_once(stack_settings)
    text = (reports / "delivery-guarantees.md").read_text()
    entry = runs.delivery["scenarios"][DELIVERY_SCENARIO]
    assert runs.delivery["run_id"] in text
    row = _row(text, DELIVERY_SCENARIO)
    assert row[1] == "single"
    assert row[2] == f"{entry['acked']:,}" and row[3] == f"{entry['lost']:,}"
    assert f"{entry['lost']:,} of {entry['acked']:,} acked messages lost" in text
    checks = [ln for ln in text.splitlines() if ln.startswith(f"| {DELIVERY_SCENARIO} | ")][1:]
    assert checks and all("| yes |" in c for c in checks), text
    assert "rolled back: yes" in text
    # The brokers' own view of the scenario, from their JMX series (one broker here).
    assert "What the cluster saw (brokers' own metrics):\n- brokers answering: 1 to 1" in text
    assert (reports / f"delivery-{DELIVERY_SCENARIO}.png").read_bytes()[:4] == b"\x89PNG"


def test_prometheus_down_keeps_old_reports(reports: Path, stack_settings: Settings) -> None:
    before = {p.name: p.read_bytes() for p in reports.iterdir()}
    result = kafkaval(
        run_once(stack_settings).settings,
        "report",
        "--prometheus-url",
        f"http://127.0.0.1:{free_port()}",
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unreachable" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in reports.iterdir()} == before


def test_every_named_query_is_promql_the_real_prometheus_accepts(stack_settings: Settings) -> None:
    """Each query of kafkaval/promql.py, rendered as the reports render it, parses
    and evaluates on the real Prometheus (a rejected one raises)."""
    import time
    from datetime import UTC, datetime, timedelta

    from kafkaval import promql

    client = PromClient(stack_settings.prometheus_url)
    end = datetime.now(UTC)
    window = Window(end - timedelta(seconds=60), end, stack_settings.scrape_interval)
    params = {**window.params(profile="throughput"), "q": "0.99"}
    for name in promql.QUERIES:
        client.query(promql.render(name, **params), at=time.time())
