"""A consumer-group member that records every delivery before committing it.

Run as its own process (so chaos can kill -9 it)::

    python -m chaos.verifiable_consumer --bootstrap 127.0.0.1:9092 --group g \
        --topic t --out deliveries.log --max-seconds 120

Each delivery is appended as ``partition offset key`` to ``--out`` (written to
the kernel before the commit, so a SIGKILL loses nothing that was committed),
then the batch's offsets are committed synchronously: at-least-once, and the
redeliveries after a kill are at most one batch (``--batch``). The client's
own warning lines go to ``--client-warnings`` (chaos.client_log). Secret client
properties come as a JSON object in ``$KAFKAVAL_SECRET_PROPS``, never as
``--prop`` (argv is visible to every user and recorded in the pid file).

``--skip-every N`` is the deliberately unsafe mode for the checker's live
self-test: every N-th record is committed without being recorded, as if a
buggy consumer dropped it.
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

from confluent_kafka import Consumer, KafkaError, KafkaException

from chaos.client_log import warnings_logger
from kafkaval.config import parse_props
from stack.probes import quiet

# A killed member's partitions return after this; the broker's minimum.
SESSION_TIMEOUT_MS = 6000
DEFAULT_BATCH = 200
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
        "logger": warnings_logger(f"kafkaval.chaos.consumer.{group}", _appender(warnings_to)),
    }


def _appender(path: str) -> Callable[[str], None]:
    """Appends each line to ``path`` at once: the process may be killed -9 any time."""

    def append(line: str) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line.replace("\n", " ") + "\n")

    return append


def consume(args: argparse.Namespace, running: list[bool]) -> int:
    secret = json.loads(os.environ.get(SECRET_PROPS_ENV) or "{}")
    config = consumer_config(
        args.bootstrap, args.group, {**parse_props(args.prop), **secret}, args.client_warnings
    )
    consumer = Consumer(config)
    consumer.subscribe([args.topic])
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    deadline = time.monotonic() + args.max_seconds
    seen = 0
    try:
        while running[0] and time.monotonic() < deadline:
            batch = consumer.consume(num_messages=args.batch, timeout=0.5)
            lines = []
            for msg in batch:
                err = msg.error()
                if err:
                    if err.code() != KafkaError._PARTITION_EOF:
                        print(f"consumer {args.group}: {err}", file=sys.stderr)
                    continue
                seen += 1
                if args.skip_every and seen % args.skip_every == 0:
                    continue  # the unsafe mode: committed but never processed
                key = msg.key() or b"-"
                partition, offset = msg.partition(), msg.offset()
                # A consumed record always has both (None only on error events).
                assert partition is not None and offset is not None
                lines.append(b"%d %d %s\n" % (partition, offset, key))
            if lines:
                os.write(fd, b"".join(lines))
            if batch:
                try:
                    consumer.commit(asynchronous=False)
                except KafkaException as e:
                    # A rebalance or a broker fault: these records are redelivered.
                    print(f"consumer {args.group}: commit failed: {e}", file=sys.stderr)
    finally:
        os.close(fd)
        consumer.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--max-seconds", type=float, default=300.0)
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    p.add_argument("--skip-every", type=int, default=0)
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
