"""The loadgen's Prometheus metrics: a custom collector over the recorded data.

Producers and consumers record every message into compact arrays
(loadgen.recorder); they never call ``Histogram.observe()``, which would cost
about 2 µs per message. At each scrape this collector folds the latencies
recorded since the previous scrape into cumulative bucket counts (numpy, a
few ms for 100k messages) and yields fresh metric families. docs/metrics.md
("## loadgen") lists every name; keep the two in step.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

PREFIX = "kafkaval_loadgen_"

# Geometric buckets, ratio 1.04, anchored on the 0.1 s SLO boundary: k = -136
# gives 0.479 ms (<= 0.5 ms), k = 118 gives 10.2 s (>= 10 s). Linear
# interpolation inside one bucket is off by at most the bucket ratio, so
# histogram_quantile is within 4% of the exact percentile over 0.5 ms - 10 s.
BUCKET_RATIO = 1.04
BUCKET_K_RANGE = range(-136, 119)
BUCKETS_SECONDS: tuple[float, ...] = tuple(
    float(f"{0.1 * BUCKET_RATIO**k:.9g}") for k in BUCKET_K_RANGE
)
BUCKET_ERROR_BOUND = 0.04
_BOUNDS_US = np.array(BUCKETS_SECONDS, dtype=np.float64) * 1e6
_LE = [floatToGoString(b) for b in BUCKETS_SECONDS] + ["+Inf"]

# (histogram name, role, recorder attribute holding completion-ordered µs)
PRODUCER_HISTOGRAMS = (
    ("service_latency_seconds", "send -> delivery report", "service_done"),
    ("send_delay_seconds", "intended send time -> send", "send_delay_done"),
    ("response_latency_seconds", "intended send time -> delivery report", "response_done"),
)
CONSUMER_HISTOGRAMS = (("e2e_latency_seconds", "timestamp in message -> consumed", "e2e_done"),)


class ProducerSource(Protocol):
    """What the collector reads from a running producer (loadgen.producer)."""

    profile: str
    recorder: Any  # ProducerRecorder
    topic_counts: dict[str, list[int]]  # topic -> [sent, acked, failed], as of recorder.scan()
    stats: dict[str, Any] | None  # latest librdkafka statistics


class ConsumerSource(Protocol):
    profile: str
    recorder: Any  # ConsumerRecorder
    topic_counts: dict[str, int]  # topic -> consumed
    stats: dict[str, Any] | None


# Bucket index of every whole µs below 65.536 ms, looked up instead of binary
# searched: most latencies are below it, and a scrape folds ~100k of them per
# histogram while holding the GIL the producer loop needs.
_LUT_LIMIT = 1 << 16
_LUT = np.searchsorted(_BOUNDS_US, np.arange(_LUT_LIMIT), side="left").astype(np.int64)


def bucket_counts(values_us: np.ndarray) -> np.ndarray:
    """Per-bucket (non-cumulative) counts of ``values_us``; the last slot is +Inf."""
    idx = _LUT[np.clip(values_us, 0, _LUT_LIMIT - 1)]
    big = values_us >= _LUT_LIMIT - 1
    if big.any():
        idx[big] = np.searchsorted(_BOUNDS_US, values_us[big], side="left")
    return np.bincount(idx, minlength=len(_BOUNDS_US) + 1)


class SlotHistogram:
    """A latency histogram fed one observation at a time (the delivery and CDC runs).

    Per-bucket counts in the bucket layout above, and the sum; ``buckets()``
    gives the cumulative ``(le, count)`` pairs a HistogramMetricFamily takes.
    Not locked: the owner's lock guards it with the rest of its state.
    """

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS_SECONDS) + 1)  # the last slot is +Inf
        self.sum_seconds = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS_SECONDS, seconds)] += 1
        self.sum_seconds += seconds

    def buckets(self) -> list[tuple[str, float]]:
        return list(zip(_LE, map(float, itertools.accumulate(self.counts)), strict=True))


class _Hist:
    def __init__(self) -> None:
        self.counts = np.zeros(len(_BOUNDS_US) + 1, dtype=np.int64)
        self.sum_seconds = 0.0


class LoadgenCollector:
    """Cumulative counters and histograms of every producer/consumer attached.

    Sources are attached while they run and detached (their final figures
    folded in) when they finish, so the series stay monotonic over the life
    of the process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._producers: list[ProducerSource] = []
        self._consumers: list[ConsumerSource] = []
        self._cursors: dict[tuple[int, str], int] = {}
        self._hists: dict[tuple[str, str, str], _Hist] = {}
        self._counts: dict[tuple[str, str, str, str], int] = {}  # (kind, profile, topic, role)
        self._target_rate: dict[str, float] = {}

    # -- sources ------------------------------------------------------------
    def attach_producer(self, source: ProducerSource) -> None:
        with self._lock:
            self._producers.append(source)

    def attach_consumer(self, source: ConsumerSource) -> None:
        with self._lock:
            self._consumers.append(source)

    def detach(self, source: ProducerSource | ConsumerSource) -> None:
        """Fold the source's final figures into the totals and forget it."""
        with self._lock:
            if source in self._producers:
                self._drain_producer(source)  # type: ignore[arg-type]
                self._producers.remove(source)  # type: ignore[arg-type]
                for topic, (sent, acked, failed) in source.topic_counts.items():  # type: ignore[misc]
                    for kind, n in (("sent", sent), ("acked", acked), ("failed", failed)):
                        key = (kind, source.profile, topic, "producer")
                        self._counts[key] = self._counts.get(key, 0) + n
            elif source in self._consumers:
                self._drain_consumer(source)  # type: ignore[arg-type]
                self._consumers.remove(source)  # type: ignore[arg-type]
                for topic, consumed in source.topic_counts.items():  # type: ignore[union-attr]
                    key = ("consumed", source.profile, topic, "consumer")
                    self._counts[key] = self._counts.get(key, 0) + consumed
            self._cursors = {k: v for k, v in self._cursors.items() if k[0] != id(source)}

    def set_target_rate(self, profile: str, rate: float | None) -> None:
        """The rate the schedule asks for now; None (as fast as possible): no series.

        A "max" phase has no target to draw, and a sentinel value (-1) would
        poison every aggregation over the gauge, so its series is absent then.
        """
        with self._lock:
            if rate is None:
                self._target_rate.pop(profile, None)
            else:
                self._target_rate[profile] = rate

    # -- folding recorded data into buckets ----------------------------------
    def _fold(self, source: object, attr: str, recorder: Any, key: tuple[str, str, str]) -> None:
        arr = getattr(recorder, attr)
        start = self._cursors.get((id(source), attr), 0)
        end = len(arr)
        if end <= start:
            return
        # Slicing copies under the GIL; never export the live array's buffer,
        # that would make the recording thread's append() raise BufferError.
        chunk = np.frombuffer(arr[start:end], dtype=np.int64)
        hist = self._hists.setdefault(key, _Hist())
        hist.counts += bucket_counts(chunk)
        hist.sum_seconds += float(chunk.sum()) / 1e6
        self._cursors[(id(source), attr)] = end

    def _drain_producer(self, p: ProducerSource) -> None:
        p.recorder.scan()  # counts and completion-ordered latencies are derived in bulk
        for name, _help, attr in PRODUCER_HISTOGRAMS:
            self._fold(p, attr, p.recorder, (name, p.profile, "producer"))

    def _drain_consumer(self, c: ConsumerSource) -> None:
        for name, _help, attr in CONSUMER_HISTOGRAMS:
            self._fold(c, attr, c.recorder, (name, c.profile, "consumer"))

    # -- exposition -----------------------------------------------------------
    def collect(self) -> Iterator[Metric]:
        with self._lock:
            for p in self._producers:
                self._drain_producer(p)
            for c in self._consumers:
                self._drain_consumer(c)
            yield from self._counters()
            yield from self._histograms()
            rate = GaugeMetricFamily(
                PREFIX + "target_rate_messages_per_second",
                "Rate the schedule asks for now (msg/s; absent while as fast as possible)",
                labels=["profile", "role"],
            )
            for profile, value in sorted(self._target_rate.items()):
                rate.add_metric([profile, "producer"], value)
            yield rate
            yield from self._rdkafka_gauges()

    def _counters(self) -> Iterator[Metric]:
        totals = dict(self._counts)
        for p in self._producers:
            for topic, (sent, acked, failed) in list(p.topic_counts.items()):
                for kind, n in (("sent", sent), ("acked", acked), ("failed", failed)):
                    key = (kind, p.profile, topic, "producer")
                    totals[key] = totals.get(key, 0) + n
        for c in self._consumers:
            for topic, consumed in list(c.topic_counts.items()):
                key = ("consumed", c.profile, topic, "consumer")
                totals[key] = totals.get(key, 0) + consumed
        helps = {
            "sent": "Messages handed to the Kafka client",
            "acked": "Messages acknowledged by the broker",
            "failed": "Messages whose delivery report carried an error",
            "consumed": "Distinct loadgen messages read back by the run's consumers",
        }
        for kind, help_text in helps.items():
            fam = CounterMetricFamily(
                PREFIX + f"messages_{kind}", help_text, labels=["profile", "topic", "role"]
            )
            for (k, profile, topic, role), n in sorted(totals.items()):
                if k == kind:
                    fam.add_metric([profile, topic, role], n)
            yield fam

    def _histograms(self) -> Iterator[Metric]:
        for name, help_text, _attr in PRODUCER_HISTOGRAMS + CONSUMER_HISTOGRAMS:
            fam = HistogramMetricFamily(
                PREFIX + name.removesuffix("_bucket"), help_text, labels=["profile", "role"]
            )
            for (n, profile, role), hist in sorted(self._hists.items(), key=lambda kv: kv[0]):
                if n != name:
                    continue
                cumulative = np.cumsum(hist.counts)
                buckets = [(le, float(c)) for le, c in zip(_LE, cumulative, strict=True)]
                fam.add_metric([profile, role], buckets, hist.sum_seconds)
            yield fam

    def _rdkafka_gauges(self) -> Iterator[Metric]:
        specs = {
            "broker_rtt_seconds": "librdkafka brokers[].rtt.avg, max over brokers",
            "broker_rtt_p99_seconds": "librdkafka brokers[].rtt.p99, max over brokers",
            "queue_latency_seconds": "librdkafka brokers[].int_latency.avg, max over brokers",
            "outbuf_latency_seconds": "librdkafka brokers[].outbuf_latency.avg, max over brokers",
            "queued_messages": "librdkafka msg_cnt: messages in the client's queues",
        }
        fams: dict[str, GaugeMetricFamily | CounterMetricFamily] = {
            k: GaugeMetricFamily(PREFIX + "rdkafka_" + k, h, labels=["profile", "role"])
            for k, h in specs.items()
        }
        # Cumulative over the client's life (a new client starts at 0: rate() sees a reset).
        fams["retries"] = CounterMetricFamily(
            PREFIX + "rdkafka_retries",
            "librdkafka brokers[].txretries summed over brokers (current client)",
            labels=["profile", "role"],
        )
        sources: list[tuple[ProducerSource | ConsumerSource, str]] = [
            (p, "producer") for p in self._producers
        ]
        sources += [(c, "consumer") for c in self._consumers]
        for source, role in sources:
            stats = source.stats
            if not stats:
                continue
            for key, value in stats_gauges(stats, role).items():
                fams[key].add_metric([source.profile, role], value)
        yield from fams.values()


def stats_gauges(stats: dict[str, Any], role: str) -> dict[str, float]:
    """The gauge values (seconds, counts) from one librdkafka statistics JSON.

    Brokers that are only bootstrap entries (``nodeid`` -1) are skipped; the
    latencies librdkafka reports in µs are converted to seconds.
    """
    brokers = [b for b in (stats.get("brokers") or {}).values() if b.get("nodeid", -1) >= 0]

    def worst(path: tuple[str, str]) -> float:
        vals = [float((b.get(path[0]) or {}).get(path[1], 0)) for b in brokers]
        return max(vals, default=0.0) / 1e6

    out = {
        "broker_rtt_seconds": worst(("rtt", "avg")),
        "broker_rtt_p99_seconds": worst(("rtt", "p99")),
    }
    if role == "producer":
        out["queue_latency_seconds"] = worst(("int_latency", "avg"))
        out["outbuf_latency_seconds"] = worst(("outbuf_latency", "avg"))
        out["queued_messages"] = float(stats.get("msg_cnt", 0))
        out["retries"] = float(sum(int(b.get("txretries", 0)) for b in brokers))
    return out
