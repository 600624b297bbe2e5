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
from pathlib import Path
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
    per = network_by_interface(stats)
    if per is None:
        return None, None
    return sum(rx for rx, _ in per.values()), sum(tx for _, tx in per.values())


def network_by_interface(stats: Mapping[str, Any]) -> dict[str, tuple[int, int]] | None:
    """(received, transmitted) bytes per interface; None without a netns of its own."""
    networks = stats.get("networks")
    if not networks:
        return None
    return {
        str(name): (int(n.get("rx_bytes") or 0), int(n.get("tx_bytes") or 0))
        for name, n in networks.items()
    }


def device_name(major: int, minor: int, sys_block: Path = Path("/sys/dev/block")) -> str:
    """``/dev/<name>`` of a block device as cAdvisor labels it; ``MAJ:MIN`` if sysfs cannot tell."""
    try:
        for line in (sys_block / f"{major}:{minor}" / "uevent").read_text().splitlines():
            if line.startswith("DEVNAME="):
                return "/dev/" + line.removeprefix("DEVNAME=")
    except OSError:
        pass
    return f"{major}:{minor}"


def blkio_by_device(
    stats: Mapping[str, Any], sys_block: Path = Path("/sys/dev/block")
) -> dict[str, tuple[int, int]]:
    """(read, written) bytes per block device, for both cgroup versions."""
    per: dict[tuple[int, int], list[int]] = {}
    entries = (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    for entry in entries:
        op = str(entry.get("op", "")).lower()
        if op in ("read", "write"):
            counts = per.setdefault(
                (int(entry.get("major", 0)), int(entry.get("minor", 0))), [0, 0]
            )
            counts[op == "write"] += int(entry.get("value") or 0)
    return {device_name(mj, mn, sys_block): (r, w) for (mj, mn), (r, w) in sorted(per.items())}


def blkio_bytes(stats: Mapping[str, Any]) -> tuple[int, int]:
    """(read, written) bytes summed over block devices, for both cgroup versions."""
    per = blkio_by_device(stats, Path("/nonexistent"))  # totals need no device names
    return sum(r for r, _ in per.values()), sum(w for _, w in per.values())


def usage_from_stats(
    stats: Mapping[str, Any],
    memory_limit_bytes: int = 0,
    sys_block: Path = Path("/sys/dev/block"),
) -> Usage:
    """All numbers of one stats document.

    Args:
        stats: the decoded JSON of one stats call (stream=false).
        memory_limit_bytes: the container's configured limit (inspect
            ``HostConfig.Memory``); 0 means unlimited.
        sys_block: sysfs' block devices by number, to name the devices.
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
        network_by_interface=network_by_interface(stats),
        # No device entries (no I/O yet, or an engine that does not report them):
        # the totals (0) as one series, so the container still has a disk series.
        fs_by_device=blkio_by_device(stats, sys_block) or None,
    )


def cgroup_version(stats: Mapping[str, Any]) -> int:
    """1 or 2, guessed from the memory stat keys (for logs and tests)."""
    mstats = (stats.get("memory_stats") or {}).get("stats") or {}
    return 1 if "total_inactive_file" in mstats or "cache" in mstats else 2
