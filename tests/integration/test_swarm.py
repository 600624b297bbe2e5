"""``perf run --engine swarm`` on the real Docker engine: 3 worker tasks, one run.

The module joins the engine to a one-node swarm (``docker swarm init
--advertise-addr 127.0.0.1``) unless it already is in one, and leaves it
afterwards (with the ``docker_gwbridge`` network the swarm created), so the
engine is as it was. The workers are tasks of the kafkaval image on the host
network: they reach the local test broker on 127.0.0.1 like any local
process, and nothing leaves the machine.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import numpy as np
import pytest
import requests
from dashboard_exprs import expressions
from docker_helpers import (
    KAFKAVAL_IMAGE,
    engine_or_skip,
    require_image,
    wait_for,
)

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from loadgen.control import ControlChannel
from loadgen.mergeable_hist import ERROR_BOUND, unpack
from loadgen.options import SuiteOptions
from loadgen.readback import count_loadgen_messages
from loadgen.recorder import PERCENTILES, percentile_nearest_rank
from loadgen.suite import run_suite
from loadgen.swarm_engine import RUN_LABEL, SwarmEngine, listed_containers

pytestmark = pytest.mark.integration

PREFIX = "kafkaval-swarm-test"
# A checkout may build its own tag of the image (the shared one is compose's).
IMAGE = os.environ.get("KAFKAVAL_SWARM_TEST_IMAGE", KAFKAVAL_IMAGE)
GENEROUS = {"max_p95_service_seconds": 5.0, "min_rate_ratio": 0.5}


@pytest.mark.docker
def test_an_engine_not_in_a_swarm_is_one_line() -> None:
    # Before the module's swarm exists (tests run in file order).
    client = engine_or_skip()
    if client.info()["Swarm"]["LocalNodeState"] == "active":
        pytest.skip("the engine is in a swarm already (not made by this module)")
    with pytest.raises(KafkavalError, match="not in a swarm .*docker swarm init") as e:
        SwarmEngine(IMAGE).preflight()
    assert "\n" not in str(e.value)


@pytest.fixture(scope="module")
def swarm() -> Iterator[docker.DockerClient]:
    client = engine_or_skip()
    require_image(client, IMAGE)
    joined = client.info()["Swarm"]["LocalNodeState"] != "active"
    bridges_before = {n.name for n in client.networks.list(names=["docker_gwbridge"])}
    if joined:
        client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    try:
        yield client
    finally:
        if joined:
            client.swarm.leave(force=True)
            wait_for(
                lambda: client.info()["Swarm"]["LocalNodeState"] == "inactive", 60, "swarm left"
            )
            # The engine as it was: the networks the swarm made go, one that was there stays.
            made = [n for n in ("ingress", "docker_gwbridge") if n not in bridges_before]
            if "docker_gwbridge" in made:
                for net in client.networks.list(names=["docker_gwbridge"]):
                    net.remove()
            wait_for(
                lambda: not [n for n in client.networks.list(names=made) if n.name in made],
                30,
                "the swarm's networks to go",
            )


def _free_ports(start: int, n: int) -> int:
    """A base port from ``start`` on with ``n`` free ports above it (worker i: base + i)."""
    for base in range(start, start + 200, n + 1):
        try:
            for p in range(base, base + n + 1):
                with socket.socket() as t:
                    t.bind(("127.0.0.1", p))
        except OSError:
            continue
        return base
    raise AssertionError(f"no {n + 1} free ports from {start}")


def _settings(stack_settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(
        stack_settings,
        metrics_port=_free_ports(stack_settings.metrics_port + 300, 3),
        worker_image=IMAGE,
        worker_network="host",
        results_dir=str(tmp_path / "results"),
    )


def _opts(**kw: Any) -> SuiteOptions:
    """A QUICK throughput run with the generous limits of a shared test machine."""
    return SuiteOptions(
        quick=True, profiles=["throughput"], progress=False, thresholds=GENEROUS, **kw
    )


def _worker_samples(settings: Settings, topic: str, n: int) -> list[np.ndarray]:
    """Each worker's exact service latencies (µs) from its result on the control topic."""
    ch = ControlChannel(settings, topic, "test")
    results: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 60
        while len(results) < n and time.monotonic() < deadline:
            for kind, sender, body in ch.poll(1.0):
                if kind == "result":
                    results[sender] = body
    finally:
        ch.close()
    assert len(results) == n, f"results on {topic}: {sorted(results)}"
    return [unpack(results[str(i)]["service_samples_us"]) for i in range(1, n + 1)]


def _query(settings: Settings, promql: str) -> list[dict[str, Any]]:
    r = requests.get(
        f"{settings.prometheus_url}/api/v1/query", params={"query": promql}, timeout=10
    )
    r.raise_for_status()
    return r.json()["data"]["result"]


def _leftovers(client: docker.DockerClient, run_id: str | None = None) -> list[str]:
    services = [s.name for s in client.services.list() if s.name.startswith(PREFIX)]
    label = f"{RUN_LABEL}={run_id}" if run_id else RUN_LABEL
    containers = [name for name, _ in _run_containers(client, label, all_states=True)]
    return services + containers


def _run_containers(
    client: docker.DockerClient, label: str, all_states: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """(name, list entry) of this test's worker containers."""
    entries = listed_containers(client, label, all_states)
    named = [((e.get("Names") or ["?"])[0].lstrip("/"), e) for e in entries]
    return [(name, e) for name, e in named if name.startswith(PREFIX)]


@pytest.mark.docker
def test_three_workers_make_one_run_with_exact_totals(
    swarm: docker.DockerClient, stack_settings: Settings, tmp_path: Path
) -> None:
    from kafkaval import kafka_admin

    settings = _settings(stack_settings, tmp_path)
    opts = _opts(messages=3000, workers=3, engine="swarm", engine_prefix=PREFIX, keep_topics=True)
    record = run_suite(settings, opts, out=io.StringIO())
    p = record["profiles"]["throughput"]
    assert "engine" in p, p.get("error")
    run_id = p["engine"]["run_id"]
    run_topics = p["parameters"]["topics"]
    control = p["engine"]["control_topic"]
    try:
        assert _leftovers(swarm, run_id) == [], "service or containers left after the run"
        assert record["passed"], p["thresholds"]
        rows = p["worker_results"]
        assert [r["worker"] for r in rows] == [1, 2, 3]
        assert p["sent"] == p["acked"] == 3000 and p["failed"] == 0
        assert sum(r["acked"] for r in rows) == p["acked"] == p["consumed"]
        # Independent count: a fresh consumer reads every partition to its end.
        counted = count_loadgen_messages(settings, run_topics)
        assert counted == {r["worker"]: r["acked"] for r in rows}, counted
        assert sum(counted.values()) == p["acked"]
        # Merged percentiles = those of the union of the exact samples, within the bound.
        union = np.sort(np.concatenate(_worker_samples(settings, control, 3)))
        assert union.size == p["acked"]
        svc = p["service_latency_seconds"]
        assert svc["count"] == union.size and round(svc["max"] * 1e6) == union[-1]
        for name, q in PERCENTILES.items():
            exact = percentile_nearest_rank(union, q)
            got = round(svc[name] * 1e6)
            assert exact * (1 - ERROR_BOUND) <= got <= exact, (name, got, exact)
        assert p["engine"]["histogram_error_bound"] == ERROR_BOUND
        assert all(r["cpu_seconds"] > 0 and r["max_rss_bytes"] > 0 for r in rows)
        # Prometheus scraped the three workers (the driver registered them): its
        # sums over workers equal the record.
        for kind in ("sent", "acked", "failed"):
            series = _query(
                settings,
                f'last_over_time(kafkaval_loadgen_messages_{kind}_total{{run_id="{run_id}"}}[15m])',
            )
            by_worker: dict[str, float] = {}
            for s in series:
                w = s["metric"]["worker"]
                by_worker[w] = by_worker.get(w, 0.0) + float(s["value"][1])
            assert sorted(by_worker) == ["1", "2", "3"], (kind, series)
            assert sum(by_worker.values()) == p[kind], (kind, by_worker)
        hist = _query(
            settings,
            "sum(last_over_time(kafkaval_loadgen_service_latency_seconds_count"
            f'{{run_id="{run_id}"}}[15m]))',
        )
        assert float(hist[0]["value"][1]) == p["acked"]
        # The load dashboard's run picker offers this run: its variable query, as
        # Grafana sends label_values(metric, label) over the last 15 minutes.
        (var,) = [e for b, n, e in expressions() if b == "load" and n == "variable run_id"]
        metric = re.fullmatch(r"group by \(run_id\) \((\w+)\)", var)
        assert metric, var
        r = requests.get(
            f"{settings.prometheus_url}/api/v1/label/run_id/values",
            params={"match[]": metric[1], "start": time.time() - 900},
            timeout=10,
        )
        assert run_id in r.json()["data"], r.text
    finally:
        kafka_admin.delete_topics(settings, [*run_topics, control])


@pytest.mark.docker
def test_a_dying_worker_fails_the_run_naming_it_and_nothing_is_left(
    swarm: docker.DockerClient, stack_settings: Settings, tmp_path: Path
) -> None:
    settings = _settings(stack_settings, tmp_path)
    killed: dict[str, str] = {}
    stop = threading.Event()

    def kill_one() -> None:
        # The first worker container that runs is killed (SIGKILL: no goodbye).
        while not stop.is_set() and not killed:
            for _, entry in _run_containers(swarm, RUN_LABEL):
                if entry.get("State") == "running":
                    task = (entry.get("Labels") or {}).get("com.docker.swarm.task.name", "")
                    try:
                        swarm.api.kill(entry["Id"])
                    except docker.errors.NotFound:
                        continue  # gone already: the next one
                    killed["slot"] = task.split(".")[1] if task.count(".") >= 2 else "?"
                    return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_one, daemon=True)
    killer.start()
    opts = _opts(workers=3, engine="swarm", engine_prefix=PREFIX)
    try:
        # A broken profile is recorded failed with its reason (the other profiles still run).
        record = run_suite(settings, opts, out=io.StringIO())
    finally:
        stop.set()
        killer.join(5)
    assert killed, "no worker container was seen running"
    assert record["passed"] is False
    message = record["profiles"]["throughput"].get("error", "")
    assert "\n" not in message and f"worker {killed['slot']} " in message, message
    assert "ended without a result" in message, message
    assert _leftovers(swarm) == []


@pytest.mark.docker
def test_an_image_missing_on_the_engine_is_one_line(swarm: docker.DockerClient) -> None:
    with pytest.raises(KafkavalError, match="image kafkaval/no-such:image is not on the engine"):
        SwarmEngine("kafkaval/no-such:image").preflight()


def test_external_workers_started_by_environment_make_one_run(
    stack_settings: Settings, tmp_path: Path
) -> None:
    """--engine external with workers started as a Kubernetes Indexed Job starts its pods:
    the same image's command, the contract in JOB_COMPLETION_INDEX (0-based) and env."""
    import subprocess
    import sys

    settings = _settings(stack_settings, tmp_path)
    procs: list[subprocess.Popen[bytes]] = []

    def start(run_id: str, n: int, args: list[str], env: dict[str, str]) -> None:
        assert env["KAFKAVAL_RUN_ID"] == run_id and env["KAFKAVAL_WORKERS"] == str(n)
        for i in range(n):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "kafkaval", *args],
                    env={
                        **os.environ,
                        **env,
                        "JOB_COMPLETION_INDEX": str(i),
                        "KAFKAVAL_STATE_DIR": settings.state_dir,
                    },  # fmt: skip
                    stdout=subprocess.DEVNULL,
                    stderr=(tmp_path / f"worker-{i}.log").open("wb"),
                )
            )

    opts = _opts(messages=2000, workers=2, engine="external", engine_start=start)
    try:
        record = run_suite(settings, opts, out=io.StringIO())
        for p in procs:
            assert p.wait(60) == 0, (tmp_path / "worker-0.log").read_text()[-2000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
    prof = record["profiles"]["throughput"]
    assert record["passed"], prof["thresholds"]
    assert prof["acked"] == prof["consumed"] == 2000
    assert [r["acked"] for r in prof["worker_results"]] == [1000, 1000]
