"""The exporter against the real engine: numbers move, churn is survived."""

from __future__ import annotations

import secrets

import pytest
from docker_helpers import (
    BASE_IMAGE,
    TEST_LABEL,
    engine_or_skip,
    require_image,
    wait_for,
)

from exporter.docker_source import DockerSource
from exporter.sampler import Sampler

pytestmark = pytest.mark.docker

BURN = "import time\nt = time.time()\nwhile time.time() - t < 20: pass\ntime.sleep(60)\n"
ALLOC = (
    "import time\nb = bytearray(96 * 1024 * 1024)\n"
    "for i in range(0, len(b), 4096): b[i] = 1\ntime.sleep(60)\n"
)


@pytest.fixture
def engine():
    client = engine_or_skip()
    require_image(client, BASE_IMAGE)
    run = secrets.token_hex(3)
    started = []

    def run_container(name: str, code: str, **kw):
        c = client.containers.run(
            BASE_IMAGE, ["python3", "-c", code], name=f"kv-it-{run}-{name}",
            labels={TEST_LABEL: run}, detach=True, **kw,
        )  # fmt: skip
        started.append(c)
        return c

    try:
        yield client, run, run_container
    finally:
        for c in started:
            try:
                c.remove(force=True)
            except Exception:  # noqa: BLE001 - cleanup of a container the test removed itself
                pass
        client.close()


def by_name(sampler: Sampler) -> dict:
    return {t.name: t for t in sampler.sample_once().targets}


def test_cpu_and_memory_move(engine) -> None:
    client, run, run_container = engine
    burner = run_container("burn", BURN)
    hog = run_container("alloc", ALLOC, mem_limit="256m")
    source = DockerSource(labels=[f"{TEST_LABEL}={run}"])
    sampler = Sampler(source)
    try:
        wait_for(lambda: len(by_name(sampler)) == 2, 30, "both containers sampled")
        first = by_name(sampler)[burner.name].usage
        assert first is not None
        wait_for(
            lambda: by_name(sampler)[burner.name].usage.cpu_seconds >= first.cpu_seconds + 1.0,
            30,
            "the burner's CPU counter to grow by 1 s",
        )
        wait_for(
            lambda: by_name(sampler)[hog.name].usage.memory_working_set_bytes > 80 * 2**20,
            30,
            "the allocator's working set to pass 80 MiB",
        )
        hog_sample = by_name(sampler)[hog.name]
        assert hog_sample.usage.memory_limit_bytes == 256 * 2**20
        assert hog_sample.running and hog_sample.start_time_seconds
        assert hog_sample.usage.network_receive_bytes is not None  # bridge network
    finally:
        sampler.stop()


def test_disk_writes_move_when_the_kernel_accounts_them(engine) -> None:
    from pathlib import Path

    root = Path("/sys/fs/cgroup/blkio/blkio.throttle.io_service_bytes_recursive")
    if root.exists() and root.read_text().strip() == "Total 0":
        reason = "this kernel accounts no block I/O in cgroups (blkio reads 'Total 0')"
        print(reason)
        pytest.skip(reason)
    client, run, run_container = engine
    writer = run_container(
        "write",
        "import os, time\nf = open('/tmp/x', 'wb')\nf.write(os.urandom(32 * 2**20))\n"
        "f.flush(); os.fsync(f.fileno())\ntime.sleep(60)\n",
    )
    source = DockerSource(labels=[f"{TEST_LABEL}={run}"])
    sampler = Sampler(source)
    try:
        wait_for(
            lambda: (
                (by_name(sampler).get(writer.name) or None) is not None
                and by_name(sampler)[writer.name].usage.fs_write_bytes >= 16 * 2**20
            ),
            40,
            "fs writes to reach 16 MiB",
        )
    finally:
        sampler.stop()


def test_churn_restart_and_stop(engine) -> None:
    client, run, run_container = engine
    keep = run_container("keep", "import time; time.sleep(60)")
    source = DockerSource(labels=[f"{TEST_LABEL}={run}"])
    sampler = Sampler(source)
    try:
        # containers appearing and vanishing between rounds (and during one)
        for i in range(4):
            c = run_container(f"churn{i}", "import time; time.sleep(60)")
            snap = sampler.sample_once()
            assert snap.up
            c.remove(force=True)
            snap = sampler.sample_once()
            assert snap.up and c.name not in {t.name for t in snap.targets}
        assert by_name(sampler)[keep.name].restarts == 0
        keep.restart(timeout=1)
        wait_for(lambda: by_name(sampler)[keep.name].restarts == 1, 20, "restart to be counted")
        keep.stop(timeout=1)
        stopped = by_name(sampler)[keep.name]
        assert not stopped.running and stopped.usage is None
    finally:
        sampler.stop()


def test_through_the_socket_proxy_the_exporter_reads_and_nothing_else_passes(engine) -> None:
    import threading

    import docker
    import requests
    from ports import free_port

    from exporter import socket_proxy
    from exporter.docker_source import default_client_factory

    client, run, run_container = engine
    sleeper = run_container("sleeper", "import time\ntime.sleep(120)\n")
    port = free_port()
    server = socket_proxy.serve(("127.0.0.1", port), "/var/run/docker.sock")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxied = {"DOCKER_HOST": f"tcp://127.0.0.1:{port}"}
    source = DockerSource(default_client_factory(proxied), labels=[f"{TEST_LABEL}={run}"])
    sampler = Sampler(source)
    via_proxy = docker.DockerClient(base_url=f"tcp://127.0.0.1:{port}", timeout=10)
    try:
        # The exporter's whole path (list, inspect, one-shot stats) works through it.
        wait_for(
            lambda: getattr(by_name(sampler).get(sleeper.name), "usage", None) is not None,
            30,
            "the container's usage read through the proxy",
        )
        # An inspect through it carries no environment (where passwords live).
        assert "Env" not in via_proxy.api.inspect_container(sleeper.id).get("Config", {})
        # What changes the engine is refused, with the reason, and nothing changed.
        with pytest.raises(docker.errors.APIError, match="POST is refused"):
            via_proxy.api.kill(sleeper.id)
        # (docker-py's logs() inspects first; asked plainly, as any client could.)
        logs = requests.get(
            f"http://127.0.0.1:{port}/v1.41/containers/{sleeper.id}/logs?stdout=1", timeout=10
        )
        assert logs.status_code == 403 and "logs is refused" in logs.json()["message"]
        sleeper.reload()
        assert sleeper.status == "running"
    finally:
        via_proxy.close()
        sampler.stop()
        server.shutdown()
        server.server_close()
