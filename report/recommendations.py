"""Tuning recommendations: explicit rules over the measured numbers.

Each rule looks at one number of the performance context, fires only when that
number crosses the rule's limit, and cites the number in its text. No number,
no recommendation. docs/reading-reports.md lists the rules for readers; keep it
in step with ``RULES``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# Limits of the rules; named so the reading guide and the code say the same.
BROKER_CPU_LIMIT = 0.8  # cores: 80% of one core, as `docker stats` counts
BROKER_MEMORY_LIMIT = 2 * 1024**3  # bytes: the plan's 2 GiB broker budget
P95_SERVICE_LIMIT = 0.100  # seconds: the plan's p95 < 100 ms
OUTBUF_LIMIT = 0.010  # seconds waiting in librdkafka's output buffer
SEND_DELAY_SHARE = 0.5  # send delay p99 above this share of response p99


@dataclass(frozen=True)
class Recommendation:
    """One fired rule: what triggered it (with the number) and what to do."""

    rule: str
    scope: str
    evidence: str
    advice: str


def _is_broker(name: str) -> bool:
    return "broker" in name or "kafka" in name


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def broker_cpu(ctx: dict[str, Any]) -> Iterator[Recommendation]:
    for r in ctx.get("resources") or []:
        peak = r.get("cpu_peak")
        if _is_broker(r["name"]) and peak is not None and peak > BROKER_CPU_LIMIT:
            yield Recommendation(
                "broker-cpu",
                r["name"],
                f"CPU peak {peak * 100:.0f}% of a core (limit {BROKER_CPU_LIMIT * 100:.0f}%)",
                "raise num.network.threads / num.io.threads, or spread load over more "
                "partitions and brokers",
            )


def broker_memory(ctx: dict[str, Any]) -> Iterator[Recommendation]:
    for r in ctx.get("resources") or []:
        peak = r.get("memory_peak")
        if _is_broker(r["name"]) and peak is not None and peak > 0.8 * BROKER_MEMORY_LIMIT:
            yield Recommendation(
                "broker-memory",
                r["name"],
                f"memory peak {peak / 1024**3:.2f} GiB (over 80% of the "
                f"{BROKER_MEMORY_LIMIT / 1024**3:.0f} GiB budget)",
                "check the broker heap (KAFKA_HEAP_OPTS) and page-cache pressure "
                "before adding load",
            )


def loadgen_bottleneck(ctx: dict[str, Any]) -> Iterator[Recommendation]:
    for p in ctx.get("profiles") or []:
        delay = p.get("send_delay_p99")
        response = p["latency"]["response"]["prometheus"].get("p99")
        if delay is not None and response and delay > SEND_DELAY_SHARE * response:
            yield Recommendation(
                "loadgen-bottleneck",
                p["name"],
                f"send delay p99 {_ms(delay)} is {delay / response:.0%} of response p99 "
                f"{_ms(response)}",
                "the load generator, not Kafka, limited this run: add --workers or hosts "
                "before reading the latency as Kafka's",
            )


def outbuf_latency(ctx: dict[str, Any]) -> Iterator[Recommendation]:
    for p in ctx.get("profiles") or []:
        outbuf = p.get("outbuf_latency_max")
        if outbuf is not None and outbuf > OUTBUF_LIMIT:
            yield Recommendation(
                "outbuf-latency",
                p["name"],
                f"librdkafka outbuf latency peak {_ms(outbuf)} (limit {_ms(OUTBUF_LIMIT)})",
                "requests queue before the wire: raise linger.ms and batch.size so fewer, "
                "larger requests are sent",
            )


def p95_service(ctx: dict[str, Any]) -> Iterator[Recommendation]:
    for p in ctx.get("profiles") or []:
        p95 = p["latency"]["service"]["prometheus"].get("p95")
        if p95 is not None and p95 > P95_SERVICE_LIMIT:
            yield Recommendation(
                "p95-service",
                p["name"],
                f"service p95 {_ms(p95)} (limit {_ms(P95_SERVICE_LIMIT)})",
                "acks=all waits for min.insync.replicas: check broker disk (fsync) and "
                "replica fetch latency, or lower the rate",
            )


def lag_not_draining(ctx: dict[str, Any]) -> Iterator[Recommendation]:
    for p in ctx.get("profiles") or []:
        acked, consumed = p["prom"].get("acked"), p["prom"].get("consumed")
        if acked and consumed is not None and consumed < acked:
            yield Recommendation(
                "lag-not-draining",
                p["name"],
                f"{acked - consumed:,.0f} acked messages not consumed by the end of the window "
                f"(peak lag {p['prom'].get('max_lag') or 0:,.0f})",
                "consumers fall behind: add consumers (up to the partition count) or partitions",
            )


def failed_sends(ctx: dict[str, Any]) -> Iterator[Recommendation]:
    for p in ctx.get("profiles") or []:
        failed = p["prom"].get("failed")
        if failed:
            yield Recommendation(
                "failed-sends",
                p["name"],
                f"{failed:,.0f} sends failed",
                "read the producer errors: delivery.timeout.ms too short for broker restarts, "
                "or the broker rejected requests (message.max.bytes, authorization)",
            )


RULES: list[Callable[[dict[str, Any]], Iterator[Recommendation]]] = [
    broker_cpu,
    broker_memory,
    p95_service,
    loadgen_bottleneck,
    outbuf_latency,
    lag_not_draining,
    failed_sends,
]


def recommend(ctx: dict[str, Any]) -> list[Recommendation]:
    """Every recommendation the rules fire on the performance context ``ctx``."""
    return [rec for rule in RULES for rec in rule(ctx)]
