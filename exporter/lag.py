"""Consumer-group lag as Prometheus series, under kafka_exporter's names.

``ConsumerLagSource`` reads, with one AdminClient, the consumer groups, each
group's committed offsets and the end offsets (high watermarks) of those
partitions; the exporter's background ``Sampler`` calls it every interval, so
a scrape never waits for Kafka, and every Kafka call of a round shares one
deadline. ``ConsumerLagCollector`` turns the latest round into
``kafka_consumergroup_lag{consumergroup,topic,partition}`` (end offset minus
committed offset) and its companions, as kafka_exporter and kminion users know
them.

Cardinality is bounded to the groups runs use: a group is reported while it has
members and for ``linger`` seconds after it last had some (a stopped consumer's
lag stays visible as it grows), at most ``max_groups`` of them, only for
partitions it has committed offsets on. Groups that are idle since before the
exporter started (old runs' groups kept by the broker for days) are not.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from prometheus_client.core import GaugeMetricFamily, Metric, UnknownMetricFamily

from exporter.errors import SourceUnavailable
from exporter.sampler import Sampler

# A committed offset below 0 means "none committed" (librdkafka's OFFSET_INVALID).
_NO_OFFSET = 0


@dataclasses.dataclass(frozen=True)
class PartitionLag:
    """One partition a group committed on, with the partition's end offset."""

    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        # A commit past the end is possible for a moment (end read first): no negative lag.
        return max(0, self.end - self.committed)


class ConsumerLagSource:
    """Committed and end offsets of the consumer groups in use, one round per ``sample()``.

    Args:
        client_config: librdkafka properties of the cluster (bootstrap, security).
        timeout: seconds one round may take in total (all requests share it).
        linger: seconds a group stays reported after it last had members.
        max_groups: most groups reported (the most recently active ones win).
        admin: an AdminClient-like object (tests inject a fake); built from
            ``client_config`` by default.
        clock: monotonic clock.
    """

    kind = "kafka"

    def __init__(
        self,
        client_config: dict[str, str],
        timeout: float = 5.0,
        linger: float = 600.0,
        max_groups: int = 100,
        admin: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._admin = admin if admin is not None else AdminClient(dict(client_config))
        self.timeout = timeout
        self.linger = linger
        self.max_groups = max_groups
        self._clock = clock
        self._last_active: dict[str, float] = {}

    def _result(self, future: Future[Any], deadline: float, what: str) -> Any:
        """The one answer ``what`` needs, or SourceUnavailable (see `_answered`)."""
        return self._answered({what: future}, deadline, what)[what]

    def _answered(self, futures: dict[Any, Future[Any]], deadline: float, what: str) -> dict:
        """The answers among ``futures`` (keyed alike); the failed ones are left out.

        One partition or group Kafka cannot answer for (a topic deleted after
        its group committed on it, a leader moving in a fault, a coordinator
        loading) has no figure this round; it must not cost every other group
        its lag. Only when none answers is the source unavailable.

        Raises:
            SourceUnavailable: not one of ``futures`` answered by the deadline.
        """
        answers, failures = {}, []
        for key, future in futures.items():
            try:
                answers[key] = future.result(timeout=max(0.0, deadline - self._clock()))
            except Exception as e:  # noqa: BLE001 - KafkaException, timeouts: one reason for all
                failures.append(e)
        if futures and not answers:
            raise SourceUnavailable(f"Kafka did not answer {what}: {failures[0]}")
        return answers

    def _groups(self, deadline: float) -> list[str]:
        """The groups to report, updating when each last had members."""
        listing = self._result(
            self._admin.list_consumer_groups(request_timeout=self.timeout),
            deadline,
            "the consumer group list",
        )
        now = self._clock()
        for group in listing.valid:
            if group.state not in (ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD):
                self._last_active[group.group_id] = now
        live = {g.group_id for g in listing.valid}
        recent = [
            g for g, seen in self._last_active.items() if g in live and now - seen <= self.linger
        ]
        for g in list(self._last_active):
            if g not in recent:
                del self._last_active[g]
        recent.sort(key=lambda g: self._last_active[g], reverse=True)
        return sorted(recent[: self.max_groups])

    def sample(self) -> list[PartitionLag]:
        """One round: every reported group's committed offsets and their partitions' ends.

        Raises:
            SourceUnavailable: Kafka did not answer within the round's deadline.
        """
        deadline = self._clock() + self.timeout
        groups = self._groups(deadline)
        if not groups:
            return []
        # One group per request (librdkafka's limit); all in flight at once.
        futures = {
            g: self._admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(g)], request_timeout=self.timeout
            )[g]
            for g in groups
        }
        committed: dict[tuple[str, str, int], int] = {}
        for group, result in self._answered(futures, deadline, "the groups' offsets").items():
            for tp in result.topic_partitions or []:
                if tp.error is None and tp.offset >= _NO_OFFSET:
                    committed[(group, tp.topic, tp.partition)] = tp.offset
        if not committed:
            return []
        partitions = {(t, p) for _g, t, p in committed}
        ends_futures = self._admin.list_offsets(
            {TopicPartition(t, p): OffsetSpec.latest() for t, p in sorted(partitions)},
            request_timeout=self.timeout,
        )
        ends = {
            (tp.topic, tp.partition): int(answer.offset)
            for tp, answer in self._answered(ends_futures, deadline, "the partitions' ends").items()
        }
        return [
            PartitionLag(g, t, p, offset, ends[(t, p)])
            for (g, t, p), offset in sorted(committed.items())
            if (t, p) in ends
        ]

    def close(self) -> None:
        """Nothing to release: the AdminClient goes with its last reference."""


class ConsumerLagCollector:
    """Fresh lag families from the sampler's latest round on each scrape.

    Args:
        sampler: the background sampler of a ``ConsumerLagSource``.
    """

    def __init__(self, sampler: Sampler[PartitionLag]) -> None:
        self._sampler = sampler

    def collect(self) -> Iterator[Metric]:
        snap = self._sampler.snapshot
        up = GaugeMetricFamily(
            "kafkaval_lag_exporter_up",
            "1 if the last round read the consumer groups' offsets from Kafka, else 0.",
        )
        up.add_metric([], 1.0 if snap.up else 0.0)
        yield up
        duration = GaugeMetricFamily(
            "kafkaval_lag_exporter_sample_duration_seconds",
            "Wall time of the last round of offset requests, seconds.",
        )
        duration.add_metric([], snap.duration_seconds)
        yield duration
        groups = GaugeMetricFamily(
            "kafkaval_lag_exporter_groups", "Consumer groups reported in the last round."
        )
        groups.add_metric([], len({p.group for p in snap.targets}))
        yield groups
        labels = ["consumergroup", "topic", "partition"]
        lag = GaugeMetricFamily(
            "kafka_consumergroup_lag",
            "End offset of the partition minus the group's committed offset, messages.",
            labels=labels,
        )
        current = GaugeMetricFamily(
            "kafka_consumergroup_current_offset",
            "The group's committed offset on the partition.",
            labels=labels,
        )
        end = GaugeMetricFamily(
            "kafka_topic_partition_current_offset",
            "End offset (high watermark) of the partition.",
            labels=["topic", "partition"],
        )
        # kafka_exporter's name, typed untyped: the _sum suffix is reserved for
        # summaries and histograms, which this is not (promtool exempts untyped).
        lag_sum = UnknownMetricFamily(
            "kafka_consumergroup_lag_sum",
            "The group's lag summed over the topic's partitions, messages.",
            labels=["consumergroup", "topic"],
        )
        sums: dict[tuple[str, str], int] = {}
        ends: dict[tuple[str, str], int] = {}
        for p in snap.targets:
            values = [p.group, p.topic, str(p.partition)]
            lag.add_metric(values, p.lag)
            current.add_metric(values, p.committed)
            ends[(p.topic, str(p.partition))] = p.end
            sums[(p.group, p.topic)] = sums.get((p.group, p.topic), 0) + p.lag
        for (topic, partition), offset in sorted(ends.items()):
            end.add_metric([topic, partition], offset)
        for (group, topic), total in sorted(sums.items()):
            lag_sum.add_metric([group, topic], total)
        yield from (lag, current, end, lag_sum)
