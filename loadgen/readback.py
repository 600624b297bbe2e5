"""An independent count of what the run's topics hold, read back from the log.

Not the run's own consumer: a fresh one, assigned every partition from its
start, reads to the high watermark it saw first and counts distinct loadgen
messages per worker index (the header's worker and sequence number). What a
run's acks claim can then be checked against the log itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from loadgen.payloads import read_header
from loadgen.workload import consumer_config


def count_loadgen_messages(
    settings: Settings, topics: Iterable[str], timeout: float = 300.0
) -> dict[int, int]:
    """Distinct loadgen messages per worker index in ``topics`` (warm-ups not counted).

    Raises:
        KafkavalError: the topics cannot be read to their end within ``timeout``.
    """
    c = Consumer({**consumer_config(settings, "kafkaval-readback"), "fetch.wait.max.ms": "100"})
    seen: dict[int, set[int]] = {}
    try:
        meta = c.list_topics(timeout=10).topics
        ends: dict[tuple[str, int], int] = {}
        parts = []
        for t in topics:
            for p in meta[t].partitions:
                lo, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)
                if hi > lo:
                    ends[(t, p)] = hi
                    parts.append(TopicPartition(t, p, lo))
        c.assign(parts)
        deadline = time.monotonic() + timeout
        while ends:
            if time.monotonic() > deadline:
                raise KafkavalError(f"read-back of {sorted(ends)} not done in {timeout:.0f} s")
            for m in c.consume(5000, 1.0):
                if m.error() is not None:
                    continue
                key = (m.topic(), m.partition())
                h = read_header(m.value() or b"")
                if h is not None:
                    seen.setdefault(h[0], set()).add(h[1])
                if key in ends and (m.offset() or 0) + 1 >= ends[key]:
                    del ends[key]
    except (KafkaException, KeyError) as e:
        raise KafkavalError(f"cannot read back the run's topics: {e}") from e
    finally:
        c.close()
    return {w: len(s) for w, s in sorted(seen.items())}
