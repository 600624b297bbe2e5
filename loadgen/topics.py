"""Creating and deleting a run's topics, and the preflight checks."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from kafkaval.config import Settings
from kafkaval.errors import KafkavalError
from kafkaval.files import ensure_writable_dir
from kafkaval.kafka_client import check_clients
from stack import probes

ADMIN_TIMEOUT = 15.0


_RETRIABLE_CREATE = (
    KafkaError.TOPIC_ALREADY_EXISTS,
    KafkaError._DESTROY_BROKER,
    KafkaError._TRANSPORT,
)


def _admin(settings: Settings) -> AdminClient:
    return AdminClient(probes.quiet(settings.client_config()))


def create_topics(settings: Settings, topics: Iterable[str], partitions: int, rf: int) -> None:
    """Create the topics (an existing one is deleted first, so runs start empty).

    Raises:
        KafkavalError: the broker refused or did not answer in time.
    """
    topics = list(topics)
    delete_topics(settings, topics)
    admin = _admin(settings)
    deadline = time.monotonic() + ADMIN_TIMEOUT * 2
    while True:
        futures = admin.create_topics(
            [NewTopic(t, num_partitions=partitions, replication_factor=rf) for t in topics],
            operation_timeout=ADMIN_TIMEOUT,
            request_timeout=ADMIN_TIMEOUT,
        )
        retry = []
        for topic, fut in futures.items():
            try:
                fut.result(timeout=ADMIN_TIMEOUT)
            except KafkaException as e:
                err = e.args[0]
                # A topic deleted a moment ago may still be in deletion; and
                # librdkafka (>= 2.10) drops its bootstrap connections once it
                # has learned the brokers, failing a request in flight on one
                # with _DESTROY_BROKER. Both are worth another try.
                if err.code() in _RETRIABLE_CREATE and time.monotonic() < deadline:
                    retry.append(topic)
                    continue
                raise KafkavalError(f"cannot create topic {topic}: {err.str()}") from e
        if not retry:
            break
        topics = retry
        time.sleep(0.5)
    # Metadata reaches every broker a little after creation: wait until
    # each partition has a leader so the first sends do not wait for it.
    deadline = time.monotonic() + ADMIN_TIMEOUT
    while time.monotonic() < deadline:
        md = admin.list_topics(timeout=5)
        ok = all(
            t in md.topics
            and md.topics[t].error is None
            and len(md.topics[t].partitions) == partitions
            and all(p.leader >= 0 for p in md.topics[t].partitions.values())
            for t in topics
        )
        if ok:
            return
        time.sleep(0.2)
    raise KafkavalError(f"topics {', '.join(topics)} have no leaders after {ADMIN_TIMEOUT:.0f} s")


def delete_topics(settings: Settings, topics: Iterable[str]) -> None:
    """Delete the topics if they exist; missing ones are fine.

    Raises:
        KafkavalError: the broker refused the deletion.
    """
    admin = _admin(settings)
    try:
        existing = set(admin.list_topics(timeout=ADMIN_TIMEOUT).topics)
    except KafkaException as e:
        raise KafkavalError(f"cannot list topics: {e.args[0]}") from e
    doomed = [t for t in topics if t in existing]
    if not doomed:
        return
    futures = admin.delete_topics(
        doomed, operation_timeout=ADMIN_TIMEOUT, request_timeout=ADMIN_TIMEOUT
    )
    for topic, fut in futures.items():
        try:
            fut.result(timeout=ADMIN_TIMEOUT)
        except KafkaException as e:
            if e.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise KafkavalError(f"cannot delete topic {topic}: {e.args[0].str()}") from e


def _mem_available(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def preflight(
    settings: Settings, disk_bytes: int, memory_bytes: int, need_prometheus: bool = True
) -> list[str]:
    """Check before any benchmark; return notes, raise on a refusal.

    Disk is checked where the local stack keeps broker data when that folder
    exists (the broker is ours), else only the results folder.

    Raises:
        KafkavalError: results folder not writable, not enough disk or memory, broker or
            Prometheus unreachable.
    """
    results = ensure_writable_dir(settings.path("results_dir"), keep=False)
    notes = [f"results: {results} writable"]
    state = settings.path("state_dir")
    where = state if state.exists() else settings.path("results_dir")
    probe_dir = where if where.exists() else Path(os.getcwd())
    free = shutil.disk_usage(probe_dir).free
    if free < disk_bytes:
        raise KafkavalError(
            f"preflight: {free / 2**30:.1f} GiB free under {probe_dir}, the run writes about "
            f"{disk_bytes / 2**30:.1f} GiB: free disk or use --quick"
        )
    notes.append(f"disk: {free / 2**30:.1f} GiB free, need {disk_bytes / 2**30:.2f} GiB")
    mem = _mem_available()
    if mem is not None and mem < memory_bytes:
        raise KafkavalError(
            f"preflight: {mem / 2**30:.1f} GiB memory available, the run needs about "
            f"{memory_bytes / 2**30:.1f} GiB: close something or use --quick"
        )
    try:
        # The run's own client settings, so a wrong password or CA fails here.
        check_clients(settings)
    except KafkavalError as e:
        raise KafkavalError(f"preflight: {e}") from e
    notes.append(f"kafka: {settings.bootstrap_servers} answers")
    if need_prometheus:
        if not probes.prometheus_ready(settings.prometheus_url):
            raise KafkavalError(
                f"preflight: Prometheus at {settings.prometheus_url} is not ready: start it "
                "(kafkaval stack up) or set prometheus_url"
            )
        notes.append(f"prometheus: {settings.prometheus_url} ready")
    return notes
