"""The same numbers for the processes of the local stack (no Docker).

The local stack writes one pid file per process (``stack.processes``); this
reads them each round, so a restarted broker (new pid) is followed. Numbers
come from /proc: CPU from ``stat`` (utime + stime), memory from ``status``
(VmRSS as usage; RssAnon + RssShmem as the working set, since file-backed
pages are reclaimable just like a cgroup's inactive file cache), disk I/O from
``io`` (read_bytes / write_bytes: what reached the block layer). Network is
left out: the processes share the host's network namespace, so no per-process
byte count exists.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from exporter.sample import TargetSample, Usage
from stack.processes import ManagedProcess, load_managed


def _read_kv(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition(":")
        if sep:
            values[key.strip()] = value.strip()
    return values


def _kib(value: str | None) -> int:
    # /proc/<pid>/status sizes look like "12345 kB".
    return int(value.split()[0]) * 1024 if value else 0


def boot_time(proc: Path = Path("/proc")) -> float:
    """Unix time the machine booted (``btime`` of /proc/stat)."""
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def read_process(
    pid: int, proc: Path = Path("/proc"), ticks_per_s: int | None = None
) -> tuple[Usage, float]:
    """(usage, start time in clock ticks since boot) of one process.

    Raises:
        OSError: the process is gone (or /proc is unreadable).
    """
    ticks = ticks_per_s or os.sysconf("SC_CLK_TCK")
    base = proc / str(pid)
    # Fields after the last ')' are fixed; the command name may hold spaces.
    fields = (base / "stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, start_ticks = int(fields[11]), int(fields[12]), int(fields[19])
    status = _read_kv(base / "status")
    try:
        io = _read_kv(base / "io")
    except PermissionError:
        io = {}  # another user's process: I/O counters need ptrace rights
    rss = _kib(status.get("VmRSS"))
    usage = Usage(
        cpu_seconds=(utime + stime) / ticks,
        memory_usage_bytes=rss,
        memory_working_set_bytes=_kib(status.get("RssAnon")) + _kib(status.get("RssShmem")),
        memory_limit_bytes=0,
        network_receive_bytes=None,
        network_transmit_bytes=None,
        fs_read_bytes=int(io.get("read_bytes", 0)),
        fs_write_bytes=int(io.get("write_bytes", 0)),
    )
    return usage, start_ticks


class ProcessSource:
    """Samples the processes named in the local stack's pid files.

    Args:
        pid_dir: ``<state_dir>/pids`` of the local stack.
        proc: the /proc mount (tests pass a fake tree).
        lister: returns the managed processes (default: read ``pid_dir``).
    """

    kind = "process"

    def __init__(
        self,
        pid_dir: Path,
        proc: Path = Path("/proc"),
        lister: Callable[[Path], list[ManagedProcess]] = load_managed,
    ) -> None:
        self._pid_dir = pid_dir
        self._proc = proc
        self._lister = lister
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._starts: dict[str, tuple[float, int]] = {}

    def close(self) -> None:
        pass

    def sample(self) -> list[TargetSample]:
        """One sample per process with a pid file; a dead one reports running=0."""
        btime = boot_time(self._proc)
        samples = []
        for mp in self._lister(self._pid_dir):
            usage = start = None
            if mp.pid is not None and mp.is_running():
                try:
                    usage, start_ticks = read_process(mp.pid, self._proc, self._ticks)
                    start = btime + start_ticks / self._ticks
                except (FileNotFoundError, ProcessLookupError):
                    usage = None  # exited between the pid check and the read
            samples.append(
                TargetSample(
                    name=mp.name,
                    image=Path(mp.argv[0]).name if mp.argv else "",
                    compose_service="",
                    running=usage is not None,
                    start_time_seconds=start,
                    restarts=self._restarts(mp.name, start),
                    usage=usage,
                )
            )
        return samples

    def _restarts(self, name: str, start: float | None) -> int:
        if start is None:
            return self._starts.get(name, (0.0, 0))[1]
        last, count = self._starts.get(name, (start, 0))
        if abs(start - last) > 0.5:  # a new process under the same role
            count += 1
        self._starts[name] = (start, count)
        return count
