"""The loadgen's Prometheus metrics: a custom collector over the recorded data.

Producers and consumers record every message into compact arrays
(loadgen.recorder) and never call ``Histogram.observe()`` per message (what
that would cost: docs/metrics.md). At each scrape this collector folds the
latencies recorded since the previous scrape into cumulative bucket counts
(numpy) and yields fresh metric families. docs/metrics.md ("## loadgen")
lists every name; keep the two in step.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from kafkaval.histogram import BUCKETS_SECONDS, LE_LABELS, bucket_counts
from kafkaval.pacing import Phase
from loadgen.recorder import ConsumerRecorder, ProducerRecorder

PREFIX = "kafkaval_loadgen_"

# (histogram name, help text, recorder attribute holding completion-ordered µs)
PRODUCER_HISTOGRAMS = (
    ("service_latency_seconds", "send -> delivery report", "service_done"),
    ("send_delay_seconds", "intended send time -> send", "send_delay_done"),
    ("response_latency_seconds", "intended send time -> delivery report", "response_done"),
)
CONSUMER_HISTOGRAMS = (("e2e_latency_seconds", "timestamp in message -> consumed", "e2e_done"),)


class ConsumerSource(Protocol):
    """What the collector reads from a running consumer (loadgen.consumer)."""

    profile: str
    recorder: ConsumerRecorder
    topic_counts: dict[str, int]  # topic -> consumed
    stats: dict[str, Any] | None  # latest librdkafka statistics


class _Producer:
    """An attached producer: its profile label and its recorder."""

    def __init__(self, profile: str, recorder: ProducerRecorder) -> None:
        self.profile = profile
        self.recorder = recorder


class _Hist:
    def __init__(self) -> None:
        self.counts = np.zeros(len(BUCKETS_SECONDS) + 1, dtype=np.int64)
        self.sum_seconds = 0.0


class LoadgenCollector:
    """Cumulative counters and histograms of every producer/consumer attached.

    A producer is attached as its recorder (loadgen.recorder), a consumer as
    a ConsumerSource, while they run; they are detached (their final figures
    folded in) when they finish, so the series stay monotonic over the life
    of the process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._producers: list[_Producer] = []
        self._consumers: list[ConsumerSource] = []
        self._cursors: dict[tuple[int, str], int] = {}
        self._hists: dict[tuple[str, str, str], _Hist] = {}
        # (kind, profile, topic, role) -> total of the sources detached so far
        self._detached_counts: dict[tuple[str, str, str, str], int] = {}
        self._target_rate: dict[str, float] = {}

    # -- sources ------------------------------------------------------------
    def attach_producer(self, profile: str, recorder: ProducerRecorder) -> None:
        """Serve what ``recorder`` records under the label ``profile``."""
        with self._lock:
            self._producers.append(_Producer(profile, recorder))

    def attach_consumer(self, source: ConsumerSource) -> None:
        with self._lock:
            self._consumers.append(source)

    def detach(self, source: ProducerRecorder | ConsumerSource) -> None:
        """Fold the final figures of a producer's recorder or a consumer into
        the totals and forget it."""
        with self._lock:
            if isinstance(source, ProducerRecorder):
                recorder: ProducerRecorder | ConsumerRecorder = source
                p = next((p for p in self._producers if p.recorder is source), None)
                if p is not None:
                    self._drain_producer(p)
                    self._producers.remove(p)
                    self._add_counts(self._detached_counts, p)
            else:
                recorder = source.recorder
                if source in self._consumers:
                    self._drain_consumer(source)
                    self._consumers.remove(source)
                    for topic, consumed in source.topic_counts.items():
                        key = ("consumed", source.profile, topic, "consumer")
                        self._detached_counts[key] = self._detached_counts.get(key, 0) + consumed
            self._cursors = {k: v for k, v in self._cursors.items() if k[0] != id(recorder)}

    @staticmethod
    def _add_counts(totals: dict[tuple[str, str, str, str], int], p: _Producer) -> None:
        """Add the producer's per-topic counts (as of its last scan) to ``totals``."""
        for topic, (sent, acked, failed) in list(p.recorder.topic_counts.items()):
            for kind, n in (("sent", sent), ("acked", acked), ("failed", failed)):
                key = (kind, p.profile, topic, "producer")
                totals[key] = totals.get(key, 0) + n

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

    def follow_phases(self, profile: str) -> Callable[[Phase], None]:
        """The producer's ``on_phase``: each phase's rate becomes the target gauge."""
        return lambda phase: self.set_target_rate(profile, phase.rate or None)

    # -- folding recorded data into buckets ----------------------------------
    def _fold(
        self, recorder: ProducerRecorder | ConsumerRecorder, attr: str, key: tuple[str, str, str]
    ) -> None:
        arr = getattr(recorder, attr)
        start = self._cursors.get((id(recorder), attr), 0)
        end = len(arr)
        if end <= start:
            return
        # Slicing copies under the GIL; never export the live array's buffer,
        # that would make the recording thread's append() raise BufferError.
        chunk = np.frombuffer(arr[start:end], dtype=np.int64)
        hist = self._hists.setdefault(key, _Hist())
        hist.counts += bucket_counts(chunk)
        hist.sum_seconds += float(chunk.sum()) / 1e6
        self._cursors[(id(recorder), attr)] = end

    def _drain_producer(self, p: _Producer) -> None:
        p.recorder.scan()  # counts and completion-ordered latencies are derived in bulk
        for name, _help, attr in PRODUCER_HISTOGRAMS:
            self._fold(p.recorder, attr, (name, p.profile, "producer"))

    def _drain_consumer(self, c: ConsumerSource) -> None:
        for name, _help, attr in CONSUMER_HISTOGRAMS:
            self._fold(c.recorder, attr, (name, c.profile, "consumer"))

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
        totals = dict(self._detached_counts)
        for p in self._producers:
            self._add_counts(totals, p)
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
                buckets = [(le, float(c)) for le, c in zip(LE_LABELS, cumulative, strict=True)]
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
        sources = [(p.profile, p.recorder.stats, "producer") for p in self._producers]
        sources += [(c.profile, c.stats, "consumer") for c in self._consumers]
        for profile, stats, role in sources:
            if not stats:
                continue
            for key, value in stats_gauges(stats, role).items():
                fams[key].add_metric([profile, role], value)
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
