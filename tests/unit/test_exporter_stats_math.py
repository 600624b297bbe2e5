"""Exporter math from recorded Docker stats documents of both cgroup versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exporter import stats_math
from exporter.docker_source import _parse_docker_time

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def test_cgroup1_recorded_document() -> None:
    stats = load("docker-stats-cgroup1.json")
    assert stats_math.cgroup_version(stats) == 1
    usage = stats_math.usage_from_stats(stats, memory_limit_bytes=268435456)
    assert usage.cpu_seconds == pytest.approx(1.663598445)
    assert usage.memory_usage_bytes == 77570048
    # working set = usage - total_inactive_file (30 MiB of page cache written)
    assert usage.memory_working_set_bytes == 77570048 - 31457280
    assert usage.memory_limit_bytes == 268435456
    assert (usage.network_receive_bytes, usage.network_transmit_bytes) == (736, 0)
    assert (usage.fs_read_bytes, usage.fs_write_bytes) == (0, 0)


def test_cgroup1_blkio_sums_read_write_only() -> None:
    stats = load("docker-stats-cgroup1-blkio.json")
    read, written = stats_math.blkio_bytes(stats)
    # two devices; Sync/Async/Total entries must not be added in
    assert read == 2 * 4096 * 10
    assert written == 2 * 1048576 * 3


def test_cgroup2_document() -> None:
    stats = load("docker-stats-cgroup2.json")
    assert stats_math.cgroup_version(stats) == 2
    usage = stats_math.usage_from_stats(stats)
    assert usage.cpu_seconds == pytest.approx(2.503117)
    assert usage.memory_working_set_bytes == 77549568 - 31457280
    assert usage.memory_limit_bytes == 0  # unlimited: not the host's memory
    assert usage.network_receive_bytes == 1536 + 1000
    assert usage.network_transmit_bytes == 420 + 80
    assert (usage.fs_read_bytes, usage.fs_write_bytes) == (5242880 + 8192, 31457280)


def test_working_set_never_negative_and_missing_sections() -> None:
    stats = {"memory_stats": {"usage": 10, "stats": {"inactive_file": 50}}}
    assert stats_math.memory_working_set_bytes(stats) == 0
    usage = stats_math.usage_from_stats({})  # a stopped container's empty document
    assert usage.cpu_seconds == 0.0
    assert usage.network_receive_bytes is None  # no netns of its own (network_mode none)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-12-01T11:38:18.365070507Z", 1796125098.365070507),
        ("2026-12-01T11:38:18Z", 1796125098.0),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
    ],
)
def test_docker_timestamps(text: str, expected: float | None) -> None:
    got = _parse_docker_time(text)
    assert got == (None if expected is None else pytest.approx(expected, abs=1e-6))


def test_per_interface_and_per_device_as_cadvisor_labels_them(tmp_path: Path) -> None:
    # sysfs names device 254:0; 253:0 is unknown to it and keeps its number.
    (tmp_path / "254:0").mkdir()
    (tmp_path / "254:0" / "uevent").write_text("MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n")
    usage = stats_math.usage_from_stats(load("docker-stats-cgroup2.json"), sys_block=tmp_path)
    assert usage.network_by_interface == {"eth0": (1536, 420), "eth1": (1000, 80)}
    assert usage.fs_by_device == {"253:0": (8192, 0), "/dev/vda": (5242880, 31457280)}


def test_no_block_io_entries_keeps_one_series_of_totals() -> None:
    stats = load("docker-stats-cgroup2.json")
    stats["blkio_stats"] = {"io_service_bytes_recursive": None}
    usage = stats_math.usage_from_stats(stats)
    assert usage.fs_by_device is None
    assert (usage.fs_read_bytes, usage.fs_write_bytes) == (0, 0)
