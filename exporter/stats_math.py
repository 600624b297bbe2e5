"""Turn a Docker stats document (``GET /containers/{id}/stats``) into base units.

The engine fills the document from the container's cgroup, whose layout
differs between cgroup v1 and v2; the differences that matter here:

* memory: v1 reports page-cache counters as ``total_inactive_file`` (and
  ``cache``), v2 as ``inactive_file``. The working set is usage minus inactive
  file pages, cAdvisor's definition (what the kernel cannot reclaim cheaply).
* block I/O: ``io_service_bytes_recursive`` entries carry ``op`` "Read"/"Write"
  on v1 and "read"/"write" on v2, one entry per device (plus per-op totals on
  v1 such as "Total", "Sync", which must not be added in).
* memory limit: without a limit the engine reports the host's memory; the
  container's own limit comes from inspect (``HostConfig.Memory``, 0 = none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.sample import Usage

NANOSECONDS = 1e9


def cpu_seconds(stats: Mapping[str, Any]) -> float:
    """Total CPU time used by the container, in seconds (all CPUs, user + system)."""
    usage = (stats.get("cpu_stats") or {}).get("cpu_usage") or {}
    return float(usage.get("total_usage") or 0) / NANOSECONDS


def memory_usage_bytes(stats: Mapping[str, Any]) -> int:
    return int((stats.get("memory_stats") or {}).get("usage") or 0)


def inactive_file_bytes(stats: Mapping[str, Any]) -> int:
    """Reclaimable page cache: ``total_inactive_file`` (v1) or ``inactive_file`` (v2)."""
    mstats = (stats.get("memory_stats") or {}).get("stats") or {}
    if "total_inactive_file" in mstats:  # cgroup v1, hierarchical
        return int(mstats["total_inactive_file"])
    return int(mstats.get("inactive_file") or 0)


def memory_working_set_bytes(stats: Mapping[str, Any]) -> int:
    """Usage minus inactive file pages, never negative (cAdvisor's working set)."""
    return max(0, memory_usage_bytes(stats) - inactive_file_bytes(stats))


def network_bytes(stats: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """(received, transmitted) bytes summed over interfaces; None without a netns of its own."""
    networks = stats.get("networks")
    if not networks:
        return None, None
    rx = sum(int(n.get("rx_bytes") or 0) for n in networks.values())
    tx = sum(int(n.get("tx_bytes") or 0) for n in networks.values())
    return rx, tx


def blkio_bytes(stats: Mapping[str, Any]) -> tuple[int, int]:
    """(read, written) bytes summed over block devices, for both cgroup versions."""
    entries = (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    read = written = 0
    for entry in entries:
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += int(entry.get("value") or 0)
        elif op == "write":
            written += int(entry.get("value") or 0)
    return read, written


def usage_from_stats(stats: Mapping[str, Any], memory_limit_bytes: int = 0) -> Usage:
    """All numbers of one stats document.

    Args:
        stats: the decoded JSON of one stats call (stream=false).
        memory_limit_bytes: the container's configured limit (inspect
            ``HostConfig.Memory``); 0 means unlimited.
    """
    rx, tx = network_bytes(stats)
    read, written = blkio_bytes(stats)
    return Usage(
        cpu_seconds=cpu_seconds(stats),
        memory_usage_bytes=memory_usage_bytes(stats),
        memory_working_set_bytes=memory_working_set_bytes(stats),
        memory_limit_bytes=max(0, int(memory_limit_bytes or 0)),
        network_receive_bytes=rx,
        network_transmit_bytes=tx,
        fs_read_bytes=read,
        fs_write_bytes=written,
    )


def cgroup_version(stats: Mapping[str, Any]) -> int:
    """1 or 2, guessed from the memory stat keys (for logs and tests)."""
    mstats = (stats.get("memory_stats") or {}).get("stats") or {}
    return 1 if "total_inactive_file" in mstats or "cache" in mstats else 2
