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
HANDLER_IDLE_LIMIT = 0.3  # request handler pool idle below this: saturated
REMOTE_SHARE_LIMIT = 0.5  # waiting for followers above this share of a Produce
BROKER_GC_LIMIT = 0.05  # fraction of the window a broker spent in GC
SHARED_HOST_CORES = 4  # on this many cores or fewer, other busy processes compete
SHARED_CPU = 0.25  # cores a non-broker process must use to count as competing


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


def _window(p: dict[str, Any]) -> str:
    """The profile's window, as the evidence names it."""
    w = p.get("window") or {}
    start, end = w.get("start"), w.get("end")
    span = f" {start:%H:%M:%S}-{end:%H:%M:%S} UTC" if start and end else ""
    return f"{p['name']} window{span}"


def _replicated(p: dict[str, Any]) -> bool | None:
    """Whether the profile's topic had followers to wait for (None: unknown)."""
    rf = ((p.get("record") or {}).get("parameters") or {}).get("replication_factor")
    return None if rf is None else int(rf) > 1


def _competitors(ctx: dict[str, Any], p: dict[str, Any]) -> list[str]:
    """Busy non-broker processes on a small host during the profile: they take the CPU
    a broker's threads would use, so adding threads would not help."""
    cores = (ctx.get("environment") or {}).get("cores")
    if not isinstance(cores, int | float) or cores > SHARED_HOST_CORES:
        return []
    return [
        f"{r['name']} ({r['cpu_avg'] * 100:.0f}% of a core)"
        for r in p.get("resources") or []
        if not _is_broker(r["name"]) and (r.get("cpu_avg") or 0) >= SHARED_CPU
    ]


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
            advice = (
                "acks=all waits for min.insync.replicas: check broker disk (fsync) and "
                "replica fetch latency, or lower the rate"
                if _replicated(p) is not False
                # One copy: there is no follower to wait for, whatever min.insync.replicas says.
                else "replication factor 1, so no follower is waited for: check the broker's "
                "disk (local time) and CPU, or lower the rate"
            )
            yield Recommendation(
                "p95-service",
                p["name"],
                f"service p95 {_ms(p95)} (limit {_ms(P95_SERVICE_LIMIT)})",
                advice,
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


def handler_saturated(ctx: dict[str, Any]) -> Iterator[Recommendation]:
    for p in ctx.get("profiles") or []:
        for r in (p.get("broker") or {}).get("rows") or []:
            idle = r.get("handler_idle")
            if idle is None or idle >= HANDLER_IDLE_LIMIT:
                continue
            others = _competitors(ctx, p)
            cores = (ctx.get("environment") or {}).get("cores")
            advice = (
                f"the broker shares {cores} cores with {', '.join(others)}: its handlers wait "
                "for CPU, not for threads; give the broker its own cores before raising "
                "num.io.threads"
                if others
                else "the request handler pool is saturated: raise num.io.threads"
            )
            yield Recommendation(
                "handler-saturated",
                f"{p['name']}, {r['instance']}",
                f"request handler idle {idle:.0%} in the {_window(p)} "
                f"(limit {HANDLER_IDLE_LIMIT:.0%})",
                advice,
            )


def replication_dominates(ctx: dict[str, Any]) -> Iterator[Recommendation]:
    for p in ctx.get("profiles") or []:
        mean = (p.get("broker") or {}).get("mean_ms") or {}
        total, remote = mean.get("totaltimems"), mean.get("remotetimems")
        if not _replicated(p) or not total or remote is None:
            continue  # RF 1 has no remote time worth advising on
        if remote / total > REMOTE_SHARE_LIMIT:
            yield Recommendation(
                "replication-dominates",
                p["name"],
                f"waiting for followers is {remote / total:.0%} of a Produce's {total:.2f} ms "
                f"on the brokers in the {_window(p)}",
                "acks=all waits for the ISR: check the followers (disk, CPU, "
                "num.replica.fetchers, replica.fetch.wait.max.ms), or weigh "
                "min.insync.replicas against the durability you need",
            )


def broker_gc(ctx: dict[str, Any]) -> Iterator[Recommendation]:
    for p in ctx.get("profiles") or []:
        for r in (p.get("broker") or {}).get("rows") or []:
            gc = r.get("gc")
            if gc is not None and gc > BROKER_GC_LIMIT:
                yield Recommendation(
                    "broker-gc",
                    f"{p['name']}, {r['instance']}",
                    f"GC pauses took {gc:.0%} of the {_window(p)} (limit {BROKER_GC_LIMIT:.0%})",
                    "raise the broker heap (broker_heap, KAFKA_HEAP_OPTS) or allocate less "
                    "per message (larger batches)",
                )


RULES: list[Callable[[dict[str, Any]], Iterator[Recommendation]]] = [
    broker_cpu,
    broker_memory,
    p95_service,
    loadgen_bottleneck,
    outbuf_latency,
    lag_not_draining,
    failed_sends,
    handler_saturated,
    replication_dominates,
    broker_gc,
]


def recommend(ctx: dict[str, Any]) -> list[Recommendation]:
    """Every recommendation the rules fire on the performance context ``ctx``."""
    return [rec for rule in RULES for rec in rule(ctx)]
