"""What to run, kept apart from how the Kafka clients are configured.

A Workload names the topics, their partitions and replication, the phases
(count and rate), the record size, the payload kind and the key space. The
client properties come from ``Settings.client_config(role)`` and are passed
through unchanged on top of the defaults below; each default that differs
from librdkafka's has its reason next to it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from kafkaval.config import Settings
from kafkaval.errors import UsageError
from kafkaval.pacing import Phase
from loadgen.payloads import TABLES, min_record_size

CDC_TOPIC = "dbserver.public.{table}"
_LEGAL_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")

PRODUCER_DEFAULTS: dict[str, str] = {
    # No acked write may be lost: wait for all in-sync replicas ...
    "acks": "all",
    # ... and never duplicate or reorder on retry.
    "enable.idempotence": "true",
    # librdkafka's 5-minute default would let a down broker stall a run;
    # 30 s turns it into failed sends and a clean failure.
    "message.timeout.ms": "30000",
    # Latency and throughput both matter: a short linger batches at high
    # rates without adding much at low ones (librdkafka default is 5 ms).
    "linger.ms": "5",
    # The gauges of docs/metrics.md come from these statistics.
    "statistics.interval.ms": "1000",
}
CONSUMER_DEFAULTS: dict[str, str] = {
    # The run's consumers are assigned partitions directly; offsets are not committed.
    "enable.auto.commit": "false",
    "auto.offset.reset": "earliest",
    # Small fetch wait: end-to-end latency, not consumer batching, is measured.
    "fetch.wait.max.ms": "10",
    "statistics.interval.ms": "1000",
}


def validate_topic(name: str) -> str:
    """Kafka's topic name rule.

    Raises:
        UsageError: empty, too long, or a character Kafka rejects.
    """
    if name in (".", "..") or not _LEGAL_TOPIC.match(name):
        raise UsageError(f"illegal topic name {name!r}: use 1-249 characters from [A-Za-z0-9._-]")
    return name


def default_topics(prefix: str) -> list[str]:
    """Dedicated test topics named after the CDC topics, under ``prefix``."""
    return [validate_topic(prefix + CDC_TOPIC.format(table=t)) for t in TABLES]


@dataclasses.dataclass(frozen=True)
class Workload:
    """One run of load: topics, phases, record shape."""

    name: str
    topics: tuple[str, ...]
    phases: tuple[Phase, ...]
    record_size: int = 5120
    payload: str = "cdc"
    partitions: int = 3
    replication_factor: int = 1
    key_space: int = 100_000
    key_first: int = 1  # keys are key_first .. key_first + key_space - 1 (a worker's share)
    consume: bool = True
    # (size, weight) pairs when record sizes vary; record_size is then their mean.
    record_sizes: tuple[tuple[int, float], ...] = ()
    # Client properties the workload itself needs (its file's [producer] / [consumer]).
    producer_props: Mapping[str, str] = dataclasses.field(default_factory=dict)
    consumer_props: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(p.count for p in self.phases)

    def validate(self) -> None:
        """Raises UsageError for a workload that cannot run."""
        if self.record_size <= 0:
            raise UsageError(f"record size must be > 0 bytes, not {self.record_size}")
        smallest = min([s for s, _ in self.record_sizes] or [self.record_size])
        if smallest < min_record_size(self.payload):
            raise UsageError(
                f"record size {smallest} B is too small for {self.payload} payloads "
                f"(minimum {min_record_size(self.payload)} B)"
                + ("; use --payload raw" if self.payload == "cdc" else "")
            )
        for p in self.phases:
            if p.rate is not None and not p.rate > 0:
                raise UsageError(f"rate must be > 0 msg/s, not {p.rate}")
            if p.count <= 0:
                raise UsageError(f"message count must be > 0, not {p.count}")
        if not self.topics:
            raise UsageError("a workload needs at least one topic")
        for t in self.topics:
            validate_topic(t)
        if self.partitions <= 0 or self.replication_factor <= 0:
            raise UsageError("partitions and replication factor must be > 0")


def producer_config(
    settings: Settings,
    extra: Mapping[str, str] | None = None,
    workload: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Defaults, the workload's properties, the configured ones, then ``extra`` (the run's)."""
    return {
        **PRODUCER_DEFAULTS,
        **(workload or {}),
        **settings.client_config("producer"),
        **(extra or {}),
    }


def consumer_config(
    settings: Settings, group: str, workload: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Defaults, the group, the workload's properties, then the configured ones."""
    return {
        **CONSUMER_DEFAULTS,
        "group.id": group,
        **(workload or {}),
        **settings.client_config("consumer"),
    }
