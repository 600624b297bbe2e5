"""From recorded arrays to the figures of the run record, and the threshold checks."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from kafkaval.pacing import Phase
from kafkaval.record_types import ThresholdOutcome
from kafkaval.verdict import Check
from loadgen.cost import windowed_p99
from loadgen.profiles import ProfileSpec
from loadgen.recorder import UNSET, summarize_us
from loadgen.thresholds import Threshold

LATENCY_FIELDS = (
    "service_latency_seconds",
    "send_delay_seconds",
    "response_latency_seconds",
    "e2e_latency_seconds",
)
# Figures that get median and spread across repetitions.
SPREAD_FIELDS = (
    "achieved_rate",
    "startup_seconds",
    "produce_seconds",
    "drain_seconds",
    "recovery_seconds",
)


def phase_bounds(phases: tuple[Phase, ...]) -> list[tuple[int, int]]:
    out, start = [], 0
    for p in phases:
        out.append((start, start + p.count))
        start += p.count
    return out


def load_result(
    spec: ProfileSpec,
    phases: tuple[Phase, ...],
    intended: np.ndarray,
    sent: np.ndarray,
    acked: np.ndarray,
    failed: int,
    e2e_us: np.ndarray,
    consumed: int,
    duplicates: int,
    drain_seconds: float | None,
    rss_samples: list[tuple[float, int]],
) -> dict[str, Any]:
    """The figures of one repetition of a load profile (µs arrays in, seconds out)."""
    ok_sent = sent != UNSET
    ok_acked = acked != UNSET
    service = (acked - sent)[ok_acked]
    response = (acked - intended)[ok_acked]
    send_delay = (sent - intended)[ok_sent]
    lo, hi = phase_bounds(phases)[spec.measured] if phases else (0, 0)
    target = phases[spec.measured].rate if phases else None
    m_sent = sent[lo:hi][sent[lo:hi] != UNSET]
    m_acked = acked[lo:hi][acked[lo:hi] != UNSET]
    achieved = None
    if target is not None and m_sent.size:
        # Rate the schedule's messages went out at: from the first intended
        # time to the last send, one interval counted for the last message.
        span = (m_sent.max() - intended[lo:hi].min()) / 1e6 + 1.0 / target
        achieved = m_sent.size / span
    elif m_acked.size > 1:
        span = (m_acked.max() - sent[lo:hi][ok_sent[lo:hi]].min()) / 1e6
        achieved = m_acked.size / span if span > 0 else None
    produce_seconds = None
    if ok_acked.any():
        produce_seconds = float((acked[ok_acked].max() - sent[ok_sent].min()) / 1e6)
    out: dict[str, Any] = {
        "target_rate": target,
        "achieved_rate": achieved,
        "sent": int(ok_sent.sum()),
        "acked": int(ok_acked.sum()),
        "failed": int(failed),
        "consumed": int(consumed),
        "duplicates_consumed": int(duplicates),
        "messages_planned": int(sum(p.count for p in phases)),
        "service_latency_seconds": summarize_us(service),
        "service_p99_windowed_seconds": windowed_p99(sent, acked),
        "send_delay_seconds": summarize_us(send_delay),
        "response_latency_seconds": summarize_us(response),
        "e2e_latency_seconds": summarize_us(e2e_us),
        "produce_seconds": produce_seconds,
        "drain_seconds": drain_seconds,
    }
    if spec.name == "burst" and len(phases) == 3:
        out["recovery_seconds"] = recovery_seconds(phases, intended, acked)
    if spec.name == "sustained":
        out["drift"] = drift(intended, acked, rss_samples)
    if rss_samples:
        out["loadgen_max_rss_bytes"] = max(r for _, r in rss_samples)
    return out


def recovery_seconds(
    phases: tuple[Phase, ...], intended: np.ndarray, acked: np.ndarray, slack: float = 1.5
) -> float | None:
    """Time from the end of the burst until response latency is back to the pre-burst level.

    Back means: every later 250 ms window's p99 response time is at most
    ``slack`` x the pre-burst p99 (+1 ms for timer noise). None: never recovered.
    """
    (a0, a1), (b0, b1), (_c0, c1) = phase_bounds(phases)
    resp = np.where(acked != UNSET, acked - intended, -1)
    pre = resp[a0:a1][resp[a0:a1] >= 0]
    if pre.size == 0:
        return None
    limit = np.percentile(pre, 99) * slack + 1000
    burst_end = intended[b0:b1].max()  # several workers: the latest one's end
    post_t = intended[b1:c1]
    post_r = resp[b1:c1]
    window = 250_000
    n_win = int((post_t.max() - burst_end) // window) + 1 if post_t.size else 0
    bad_until = None
    for w in range(n_win):
        sel = (post_t >= burst_end + w * window) & (post_t < burst_end + (w + 1) * window)
        vals = post_r[sel]
        if vals.size == 0:
            continue
        if (vals < 0).any() or np.percentile(vals, 99) > limit:
            bad_until = w + 1
    if bad_until is None:
        return 0.0
    if bad_until >= n_win:
        return None
    return bad_until * window / 1e6


def drift(
    intended: np.ndarray, acked: np.ndarray, rss: list[tuple[float, int]]
) -> dict[str, float | None]:
    """p99 response time and loadgen RSS in the first vs the last quarter of the run."""
    ok = acked != UNSET
    resp = (acked - intended)[ok]
    q = max(1, resp.size // 4)
    first, last = resp[:q], resp[-q:]
    out: dict[str, float | None] = {
        "p99_first_quarter_seconds": float(np.percentile(first, 99)) / 1e6 if first.size else None,
        "p99_last_quarter_seconds": float(np.percentile(last, 99)) / 1e6 if last.size else None,
    }
    if rss:
        k = max(1, len(rss) // 4)
        rss_first = float(np.mean([r for _, r in rss[:k]]))
        rss_last = float(np.mean([r for _, r in rss[-k:]]))
        out["rss_first_quarter_bytes"] = rss_first
        out["rss_last_quarter_bytes"] = rss_last
        out["rss_growth_bytes"] = rss_last - rss_first
    return out


def threshold_checks(result: Mapping[str, Any], thresholds: Mapping[str, Threshold]) -> list[Check]:
    """Judge each threshold on ``result``, in the order given; each check is
    named by its key in ``thresholds``.

    A figure the run did not measure fails its threshold, except where the
    threshold says to skip it (a workload file's skip_unmeasured): then it is left out.
    """
    return [
        dataclasses.replace(check, name=name)
        for name, t in thresholds.items()
        if (check := t.judge(result)) is not None
    ]


def threshold_records(checks: Iterable[Check]) -> dict[str, ThresholdOutcome]:
    """A profile's ``thresholds`` in the run record: ``{name: {expr, limit, value,
    passed[, reason]}}``."""
    return {c.name: c.to_record() for c in checks}


def thresholds_with(
    thresholds: Mapping[str, Threshold], overrides: Mapping[str, float]
) -> dict[str, Threshold]:
    """``thresholds`` with overridden limits; a check the profile does not make stays off.

    Raises:
        UsageError: an override for a threshold that compares two figures.
    """
    return {
        name: t.with_limit(overrides[name]) if name in overrides else t
        for name, t in thresholds.items()
    }


def combine(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """One profile entry from its repetitions: the median repetition's figures,
    median and spread (min/max) of the key figures, and every repetition."""
    if len(reps) == 1:
        return {**reps[0], "repetitions": reps}

    # The figures shown are those of the repetition with the median p95 service latency.
    def key(r: dict[str, Any]) -> float:
        v = r.get("service_latency_seconds", {}).get("p95")
        return v if v is not None else float(r.get("startup_seconds") or 0.0)

    ordered = sorted(reps, key=key)
    base = dict(ordered[(len(ordered) - 1) // 2])
    spread: dict[str, Any] = {}
    for f in SPREAD_FIELDS:
        vals = [r[f] for r in reps if r.get(f) is not None]
        if vals:
            spread[f] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}
    for f in LATENCY_FIELDS:
        for q in ("p50", "p95", "p99"):
            vals = [r[f][q] for r in reps if r.get(f) and r[f].get(q) is not None]
            if vals:
                spread[f"{f}.{q}"] = {
                    "median": statistics.median(vals),
                    "min": min(vals),
                    "max": max(vals),
                }
    base["passed"] = all(r["passed"] for r in reps)
    base["spread"] = spread
    base["repetitions"] = reps
    return base
