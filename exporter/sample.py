"""One container's (or process's) resource numbers at one moment, in base units."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping


@dataclasses.dataclass(frozen=True)
class Usage:
    """Resource counters and gauges read from one stats document.

    Counters (``*_seconds``, ``*_bytes`` totals) only grow while the container
    lives; a restart resets them, which Prometheus' ``rate()`` handles. A field
    is None when the source cannot tell (e.g. no network namespace of its own).
    """

    cpu_seconds: float
    memory_usage_bytes: int
    memory_working_set_bytes: int
    memory_limit_bytes: int  # 0 = no limit (as cAdvisor reports it)
    network_receive_bytes: int | None
    network_transmit_bytes: int | None
    fs_read_bytes: int
    fs_write_bytes: int
    # The same counters per network interface (rx, tx) and per block device
    # (read, written), where the source tells them apart (Docker; not /proc).
    network_by_interface: Mapping[str, tuple[int, int]] | None = None
    fs_by_device: Mapping[str, tuple[int, int]] | None = None


@dataclasses.dataclass(frozen=True)
class TargetSample:
    """Everything the collector reports for one container or process."""

    name: str
    image: str
    compose_service: str
    running: bool
    start_time_seconds: float | None  # Unix time the current run started
    restarts: int
    usage: Usage | None  # None when stopped or the stats call failed
    id: str = ""  # cAdvisor's id: the container's cgroup ("/docker/<id>"); "" for processes
