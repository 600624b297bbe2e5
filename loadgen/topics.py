"""The preflight checks before a benchmark (its topics: ``kafkaval.kafka_admin``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.files import ensure_writable_dir
from kafkaval.kafka_client import check_clients
from stack import probes


def _mem_available(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def preflight(
    settings: Settings, disk_bytes: int, memory_bytes: int, need_prometheus: bool = True
) -> list[str]:
    """Check before any benchmark; return notes, raise on a refusal.

    Disk is checked where the local stack keeps broker data when that folder
    exists (the broker is ours), else only the results folder.

    Raises:
        KafkavalError: results folder not writable, not enough disk or memory, broker or
            Prometheus unreachable.
    """
    results = ensure_writable_dir(settings.path("results_dir"), keep=False)
    notes = [f"results: {results} writable"]
    state = settings.path("state_dir")
    where = state if state.exists() else settings.path("results_dir")
    # The folder may not exist yet (the probe above leaves none): its nearest existing
    # parent is on the filesystem the run will write to.
    probe_dir = next(p for p in (where.absolute(), *where.absolute().parents) if p.exists())
    free = shutil.disk_usage(probe_dir).free
    if free < disk_bytes:
        raise KafkavalError(
            f"preflight: {free / 2**30:.1f} GiB free under {probe_dir}, the run writes about "
            f"{disk_bytes / 2**30:.1f} GiB: free disk or use --quick"
        )
    notes.append(f"disk: {free / 2**30:.1f} GiB free, need {disk_bytes / 2**30:.2f} GiB")
    mem = _mem_available()
    if mem is not None and mem < memory_bytes:
        raise KafkavalError(
            f"preflight: {mem / 2**30:.1f} GiB memory available, the run needs about "
            f"{memory_bytes / 2**30:.1f} GiB: close something or use --quick"
        )
    try:
        # The run's own client settings, so a wrong password or CA fails here.
        check_clients(settings)
    except KafkavalError as e:
        raise KafkavalError(f"preflight: {e}") from e
    notes.append(f"kafka: {settings.bootstrap_servers} answers")
    if need_prometheus:
        if not probes.prometheus_ready(settings.prometheus_url):
            raise KafkavalError(
                f"preflight: Prometheus at {settings.prometheus_url} is not ready: start it "
                "(kafkaval stack up) or set prometheus_url"
            )
        notes.append(f"prometheus: {settings.prometheus_url} ready")
    return notes
