"""Helpers for the confluent-kafka clients every part of the project makes."""

from __future__ import annotations

from typing import Any


def close_producer(client: Any) -> None:
    """Destroy a producer now, without waiting for what it still holds.

    Its threads and broker connections go at once, not when the garbage
    collector gets to it (a client whose callbacks refer back to their owner
    sits in a reference cycle), and nothing left in its queue is retried into
    the topic later. What is still queued (only after a failed or timed-out
    flush; the caller has already counted those messages) is purged first:
    ``close()`` alone would flush again, for up to message.timeout.ms.
    """
    if len(client) > 0:
        client.purge()
    client.close()
