"""A consumer-group member that records every delivery before committing it.

Run as its own process (so chaos can kill -9 it)::

    python -m chaos.verifiable_consumer --bootstrap 127.0.0.1:9092 --group g \
        --topic t --out deliveries.log --max-seconds 120

Each delivery is appended as ``partition offset key`` to ``--out`` (written to
the kernel before the commit, so a SIGKILL loses nothing that was committed),
then the batch's offsets are committed synchronously: at-least-once, and the
redeliveries after a kill are at most one batch (``--batch``). Each new
assignment is marked with an ``assign`` line (the checker allows a partition
to go back only there), and a line torn by the previous member's kill -9 is
closed first (chaos.ledger describes the format). The client's own warning
lines go to ``--client-warnings`` (chaos.client_log). Secret client
properties come as a JSON object in ``$KAFKAVAL_SECRET_PROPS``, never as
``--prop`` (argv is visible to every user and recorded in the pid file).

Deliberately unsafe modes, for the checker's live self-test:
``--skip-every N`` commits every N-th record without recording it, as if a
buggy consumer dropped it; ``--seek-past K`` seeks K records ahead every
few batches, as if a buggy consumer skipped them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from chaos.client_log import client_logging
from chaos.ledger import ASSIGN_LINE, TORN_MARK, ledger_key
from kafkaval.config import parse_props
from kafkaval.kafka_client import quiet

# A killed member's partitions return after this; the broker's minimum.
SESSION_TIMEOUT_MS = 6000
DEFAULT_BATCH = 200
SEEK_EVERY_BATCHES = 4  # --seek-past: how often the unsafe consumer skips ahead
SECRET_PROPS_ENV = "KAFKAVAL_SECRET_PROPS"


def consumer_config(
    bootstrap: str, group: str, extra: dict[str, str], warnings_to: str | None = None
) -> dict[str, Any]:
    """The member's client properties; its log's warning lines go to ``warnings_to``."""
    props = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        # Offsets are committed only after the deliveries are recorded.
        "enable.auto.commit": "false",
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "session.timeout.ms": str(SESSION_TIMEOUT_MS),
        "heartbeat.interval.ms": "1000",
        **extra,
    }
    if warnings_to is None:
        return quiet(props)
    return {
        **props,
        **client_logging(
            f"kafkaval.chaos.consumer.{group}", _appender(warnings_to), props.get("debug")
        ),
    }


def _appender(path: str) -> Callable[[str], None]:
    """Appends each line to ``path`` at once: the process may be killed -9 any time."""

    def append(line: str) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line.replace("\n", " ") + "\n")

    return append


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data``: os.write may write less, and a lost tail would be a false miss."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_marker(fd: int, data: bytes) -> None:
    """Append a line that is not a delivery, keeping the file's modification time.

    The scenario reads that time as "the last delivery recorded" to tell a
    consumer client that stalled after the faults (chaos.bounds
    consumer_stalls); an assignment or a closed torn line is not a delivery.
    """
    before = os.fstat(fd)
    write_all(fd, data)
    if before.st_size:
        os.utime(fd, ns=(before.st_atime_ns, before.st_mtime_ns))


def open_ledger(path: str) -> int:
    """Open the deliveries file for appending, closing a line a killed member tore."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        # Without this the fragment would run into this member's first line
        # and make a committed delivery unreadable.
        write_marker(fd, b" " + TORN_MARK + b"\n")
    return fd


def consume(args: argparse.Namespace, running: list[bool]) -> int:
    secret = json.loads(os.environ.get(SECRET_PROPS_ENV) or "{}")
    config = consumer_config(
        args.bootstrap, args.group, {**parse_props(args.prop), **secret}, args.client_warnings
    )
    consumer = Consumer(config)
    fd = open_ledger(args.out)

    def on_assign(_consumer: Any, _partitions: list[TopicPartition]) -> None:
        # Called inside consume(), before it returns records of the new assignment.
        write_marker(fd, ASSIGN_LINE + b"\n")

    consumer.subscribe([args.topic], on_assign=on_assign)
    deadline = time.monotonic() + args.max_seconds
    seen = batches = 0
    try:
        while running[0] and time.monotonic() < deadline:
            batch = consumer.consume(num_messages=args.batch, timeout=0.5)
            lines = []
            last: dict[int, int] = {}
            for msg in batch:
                err = msg.error()
                if err:
                    if err.code() != KafkaError._PARTITION_EOF:
                        print(f"consumer {args.group}: {err}", file=sys.stderr)
                    continue
                seen += 1
                if args.skip_every and seen % args.skip_every == 0:
                    continue  # the unsafe mode: committed but never processed
                partition, offset = msg.partition(), msg.offset()
                # A consumed record always has both (None only on error events).
                assert partition is not None and offset is not None
                lines.append(b"%d %d %s\n" % (partition, offset, ledger_key(msg.key())))
                last[partition] = offset
            if lines:
                write_all(fd, b"".join(lines))
            if batch:
                try:
                    consumer.commit(asynchronous=False)
                except KafkaException as e:
                    # A rebalance or a broker fault: these records are redelivered.
                    print(f"consumer {args.group}: commit failed: {e}", file=sys.stderr)
            batches += 1 if last else 0
            if args.seek_past and last and batches % SEEK_EVERY_BATCHES == 0:
                seek_past(consumer, args.topic, last, args.seek_past)
    finally:
        os.close(fd)
        consumer.close()
    return 0


def seek_past(
    consumer: Consumer, topic: str, last: dict[int, int], count: int, wait: float = 2.0
) -> bool:
    """The unsafe mode: jump ``count`` records past the last one read of a partition.

    Only once the log holds them (below the high watermark), waiting at most
    ``wait`` seconds for the producer to get there: a seek past the end would
    reset the position to the beginning instead. Returns whether it sought.
    """
    partition, offset = next(iter(last.items()))
    tp = TopicPartition(topic, partition, offset + 1 + count)
    deadline = time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            _low, high = consumer.get_watermark_offsets(tp, timeout=1, cached=False)
            if high > tp.offset:
                consumer.seek(tp)
                return True
            time.sleep(0.1)  # the producer adds about one record per partition in this time
    except KafkaException as e:  # not assigned any more, or no answer: skip another time
        print(f"consumer: seek failed: {e}", file=sys.stderr)
    return False


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--max-seconds", type=float, default=300.0)
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    p.add_argument("--skip-every", type=int, default=0)
    p.add_argument("--seek-past", type=int, default=0)
    p.add_argument("--prop", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument(
        "--client-warnings", metavar="FILE", help="append librdkafka's warning lines here"
    )
    args = p.parse_args(argv)
    running = [True]

    def stop(_signum: int, _frame: object) -> None:
        running[0] = False  # only clear the flag; the loop commits and closes

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return consume(args, running)


if __name__ == "__main__":
    sys.exit(main())
