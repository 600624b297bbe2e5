"""``make bench-exporter``: scrape time and exporter CPU with N idle containers.

The exporter runs as its own process (as in production), so its CPU use is
measured from /proc without the benchmark's own scraping mixed in. Every
container this starts carries a per-run label and is removed in ``finally``.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import docker
import requests

from kafkaval.docker_engine import engine_client
from kafkaval.errors import KafkavalError
from kafkaval.files import write_atomic

BENCH_LABEL = "org.kafkaval.bench"
# Containers idle for at most this long even if cleanup never runs.
CONTAINER_LIFETIME_S = 600
READY_TIMEOUT_S = 90.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _targets(text: str) -> float:
    for line in text.splitlines():
        if line.startswith("kafkaval_exporter_targets "):
            return float(line.split()[1])
    return -1.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def run_benchmark(containers: int, scrapes: int, image: str, out: Path) -> dict[str, Any]:
    """Start ``containers`` idle containers, scrape ``scrapes`` times, write ``out``.

    Raises:
        KafkavalError: no engine, missing image, or the exporter never saw the containers.
    """
    try:
        client = engine_client(timeout=30)
        client.images.get(image)
    except docker.errors.ImageNotFound as e:
        raise KafkavalError(f"image {image} not found: run docker/build-images.sh") from e
    except docker.errors.DockerException as e:
        raise KafkavalError(f"Docker engine unreachable ({e}): run scripts/start-dockerd.sh") from e
    run_id = secrets.token_hex(4)
    label = f"{BENCH_LABEL}={run_id}"
    started: list[Any] = []
    exporter = None
    try:
        for i in range(containers):
            started.append(
                client.containers.run(
                    image,
                    ["sleep", str(CONTAINER_LIFETIME_S)],
                    name=f"kafkaval-bench-{run_id}-{i}",
                    labels={BENCH_LABEL: run_id},
                    network_mode="none",
                    detach=True,
                )
            )
        port = _free_port()
        exporter = subprocess.Popen(
            [sys.executable, "-m", "kafkaval", "exporter", "--port", str(port),
             "--label", label, "--interval", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if exporter.poll() is not None:
                err = exporter.stderr.read().decode(errors="replace") if exporter.stderr else ""
                raise KafkavalError(f"exporter exited early: {err.strip()[-300:]}")
            try:
                if _targets(requests.get(url, timeout=2).text) == containers:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise KafkavalError(f"exporter did not report {containers} containers in time")
            time.sleep(0.2)
        durations = []
        cpu0, wall0 = _cpu_seconds(exporter.pid), time.monotonic()
        with requests.Session() as session:
            for _ in range(scrapes):
                t0 = time.perf_counter()
                response = session.get(url, timeout=5)
                durations.append(time.perf_counter() - t0)
                response.raise_for_status()
                time.sleep(0.1)  # spread scrapes over several sampling rounds
        cpu_percent = (_cpu_seconds(exporter.pid) - cpu0) / (time.monotonic() - wall0) * 100
        result = {
            "containers": containers,
            "scrapes": scrapes,
            "scrape_p50_seconds": round(statistics.median(durations), 6),
            "scrape_p95_seconds": round(percentile(durations, 95), 6),
            "exporter_cpu_percent": round(cpu_percent, 2),
        }
        write_atomic(out, json.dumps(result, indent=2) + "\n")
        return result
    finally:
        if exporter is not None:
            exporter.terminate()
            try:
                exporter.wait(10)
            except subprocess.TimeoutExpired:
                exporter.kill()
                exporter.wait(5)
        for c in started:
            try:
                c.remove(force=True)
            except docker.errors.DockerException:
                pass  # best effort; the containers also exit by themselves
        client.close()
