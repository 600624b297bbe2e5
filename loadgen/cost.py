"""Cost of the work and robust tails: figures a busy neighbour moves less than wall-clock ones.

On a shared machine a neighbour stretches latencies and caps throughput, but
the CPU the brokers spend per message and the bytes they write per message
depend mostly on the work itself. Per load repetition the suite records:

* ``broker_cpu_seconds`` and ``broker_disk_written_bytes``: summed over the
  brokers from the exporter's counters in Prometheus over the repetition's
  window (``loadgen/broker_resources.py``);
* ``loadgen_cpu_seconds``: this process's CPU (all threads, plus worker
  processes that ended) over the repetition;
* ``service_p99_windowed_seconds``: the median over the run's 10-second
  windows of each window's service-time p99. A neighbour's burst spoils a
  window or two, which moves the whole-run p99 but hardly the median of the
  windows.

``cost_figures`` turns them into per-message costs; a figure whose inputs
are missing (no exporter, no acked message) is left out, never 0.
"""

from __future__ import annotations

import resource
from collections.abc import Mapping
from typing import Any

import numpy as np

from loadgen.recorder import UNSET

WINDOW_SECONDS = 10.0
# A window's p99 from fewer messages is its top one or two: not a tail estimate.
MIN_WINDOW_MESSAGES = 100
MIB = 1024 * 1024


def process_cpu_seconds() -> float:
    """User + system CPU of this process and of its children that were waited for.

    From getrusage (microseconds), not os.times (clock ticks of 10 ms: a
    short run's 0.2 s of CPU would be quantised by 5%).
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def windowed_p99(
    sent_us: np.ndarray,
    acked_us: np.ndarray,
    window_seconds: float = WINDOW_SECONDS,
    min_messages: int = MIN_WINDOW_MESSAGES,
) -> float | None:
    """Median over the windows (by ack time) of each window's service p99, seconds.

    Windows with fewer than ``min_messages`` acks are skipped; None when no
    window has enough.
    """
    ok = (acked_us != UNSET) & (sent_us != UNSET)
    if not ok.any():
        return None
    acked, service = acked_us[ok], (acked_us - sent_us)[ok]
    window = ((acked - acked.min()) // int(window_seconds * 1e6)).astype(np.int64)
    counts = np.bincount(window)
    p99s = [
        float(np.percentile(service[window == w], 99))
        for w in np.flatnonzero(counts >= min_messages)
    ]
    return float(np.median(p99s)) / 1e6 if p99s else None


def cost_figures(result: Mapping[str, Any], record_size: int | None) -> dict[str, float]:
    """Per-message costs of one repetition from its counters (see the module doc).

    Keys: ``broker_cpu_seconds_per_1k_messages``, ``broker_cpu_seconds_per_mib``,
    ``loadgen_cpu_seconds_per_message``, ``broker_disk_bytes_per_message``,
    each present only when its inputs are.
    """
    acked = _positive(result.get("acked"))
    if acked is None:
        return {}
    out: dict[str, float] = {}
    cpu = _positive(result.get("broker_cpu_seconds"))
    if cpu is not None:
        out["broker_cpu_seconds_per_1k_messages"] = cpu / acked * 1000
        if record_size:
            out["broker_cpu_seconds_per_mib"] = cpu / (acked * record_size / MIB)
    loadgen = _positive(result.get("loadgen_cpu_seconds"))
    if loadgen is not None:
        out["loadgen_cpu_seconds_per_message"] = loadgen / acked
    disk = _positive(result.get("broker_disk_written_bytes"))
    if disk is not None:
        out["broker_disk_bytes_per_message"] = disk / acked
    return out


def _positive(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return None
    return float(value)
