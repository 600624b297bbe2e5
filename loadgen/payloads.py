"""CDC-shaped message values: Debezium change-event envelopes, pre-built.

A value is one JSON object: a fixed-width ``kafkaval`` header (worker index,
sequence number, wall-clock send time in µs) followed by the envelope fields
``before``, ``after``, ``source``, ``op``, ``ts_ms`` of a row of ``videos``,
``users`` or ``comments``, padded to the record size in a text column. The
envelopes are built once into a pool per table; per message only the header
digits are formatted (one ``bytes %`` operation), so payload generation never
limits the rate. Fixed offsets let consumers read the header without parsing
JSON.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

from kafkaval.errors import UsageError

TABLES = ("videos", "users", "comments")
PAYLOAD_KINDS = ("cdc", "raw")

# Header: fixed widths so the fields sit at fixed byte offsets. Strings, not
# numbers, because JSON numbers may not have leading zeros.
VALUE_FORMAT = b'{"kafkaval":{"w":"%03d","seq":"%012d","ts_us":"%016d"},%s'
WORKER_SLICE = slice(18, 21)
SEQ_SLICE = slice(30, 42)
TS_SLICE = slice(53, 69)
MARKER = b'{"kafkaval":{"w":"'
HEADER_LEN = len(VALUE_FORMAT % (0, 0, 0, b""))


@dataclass(frozen=True)
class PoolEntry:
    key: bytes
    tail: bytes  # the value after the header (starts after its comma)


def make_value(worker: int, seq: int, ts_us: int, tail: bytes) -> bytes:
    return VALUE_FORMAT % (worker, seq, ts_us, tail)


def read_header(value: bytes) -> tuple[int, int, int] | None:
    """(worker, seq, ts_us) from a loadgen value, or None for a foreign message."""
    if value is None or not value.startswith(MARKER) or len(value) < HEADER_LEN:
        return None
    try:
        return int(value[WORKER_SLICE]), int(value[SEQ_SLICE]), int(value[TS_SLICE])
    except ValueError:
        return None


def _row(table: str, pk: int, rng: random.Random) -> dict:
    if table == "videos":
        return {
            "id": pk,
            "title": f"video {pk}",
            "channel_id": rng.randrange(1, 10_000),
            "duration_s": rng.randrange(5, 7200),
            "created_at": 1_700_000_000_000 + pk,
            "description": "",
        }
    if table == "users":
        return {
            "id": pk,
            "username": f"user{pk}",
            "email": f"user{pk}@example.invalid",
            "country": rng.choice(["DE", "US", "BR", "IN", "JP"]),
            "bio": "",
        }
    return {
        "id": pk,
        "video_id": rng.randrange(1, 1_000_000),
        "user_id": rng.randrange(1, 1_000_000),
        "created_at": 1_700_000_000_000 + pk,
        "body": "",
    }


PAD_COLUMN = {"videos": "description", "users": "bio", "comments": "body"}


def envelope(table: str, pk: int, op: str, lsn: int, rng: random.Random) -> dict:
    """A Debezium change event (the ``payload`` part) for one row."""
    after = _row(table, pk, rng)
    before = dict(after) if op in ("u", "d") else None
    return {
        "before": before,
        "after": None if op == "d" else after,
        "source": {
            "version": "3.6.1.Final",
            "connector": "postgresql",
            "name": "dbserver",
            "ts_ms": 1_700_000_000_000 + lsn,
            "snapshot": "false",
            "db": "app",
            "schema": "public",
            "table": table,
            "txId": 1000 + lsn,
            "lsn": lsn,
        },
        "op": op,
        "ts_ms": 1_700_000_000_000 + lsn,
    }


def _padded_tail(doc: dict, table: str, size: int) -> bytes | None:
    """The value tail padded so that header + tail is exactly ``size`` bytes.

    The padding goes into the table's text column, split between ``before``
    and ``after`` for an update (both images carry the column).
    """
    column = PAD_COLUMN[table]
    rows = [r for r in (doc["before"], doc["after"]) if r is not None]
    for r in rows:
        r[column] = ""
    base = json.dumps(doc, separators=(",", ":")).encode()
    pad = size - HEADER_LEN - (len(base) - 1)  # the tail drops the envelope's "{"
    if pad < 0:
        return None
    for i, r in enumerate(rows):
        share = pad // len(rows) + (pad % len(rows) if i == 0 else 0)
        r[column] = "x" * share
    tail = json.dumps(doc, separators=(",", ":")).encode()[1:]
    return tail if HEADER_LEN + len(tail) == size else None


def min_record_size(kind: str) -> int:
    if kind == "raw":
        return HEADER_LEN + len(b'"pad":""}')
    rng = random.Random(0)
    sizes = []
    for table in TABLES:
        for op in ("c", "u", "d"):
            doc = envelope(table, 10**9, op, 10**9, rng)
            sizes.append(HEADER_LEN + len(json.dumps(doc, separators=(",", ":"))) - 1)
    return max(sizes) + 1


def build_pool(
    table: str,
    size: int,
    kind: str = "cdc",
    entries: int = 1024,
    key_space: int = 100_000,
    seed: int = 1,
    sizes: Sequence[tuple[int, float]] = (),
    key_first: int = 1,
) -> list[PoolEntry]:
    """``entries`` pre-built (key, tail) pairs for ``table``, each value ``size`` bytes.

    Keys are the rows' primary keys drawn uniformly from ``key_first ..
    key_first + key_space - 1`` (a worker's slice; all of ``1..key_space`` by
    default); ops are 60% create, 30% update, 10% delete, as in a busy table.
    With ``sizes`` ((size, weight) pairs) each entry's size is drawn from them instead.

    Raises:
        UsageError: ``size`` is too small for the payload kind, or kind unknown.
    """
    if kind not in PAYLOAD_KINDS:
        raise UsageError(f"unknown payload kind {kind!r}; choose one of {', '.join(PAYLOAD_KINDS)}")
    minimum = min_record_size(kind)
    smallest = min([s for s, _ in sizes] or [size])
    if smallest < minimum:
        raise UsageError(
            f"record size {smallest} B is too small for {kind} payloads (minimum {minimum} B)"
            + ("; use --payload raw for tiny records" if kind == "cdc" else "")
        )
    rng = random.Random(f"{seed}-{table}")
    # A generator of its own, so one fixed size keeps the keys and ops of before.
    size_rng = random.Random(f"{seed}-{table}-sizes")
    pool = []
    for n in range(entries):
        if sizes:
            size = size_rng.choices([s for s, _ in sizes], weights=[w for _, w in sizes])[0]
        pk = rng.randrange(key_first, key_first + key_space)
        if kind == "raw":
            pad = size - HEADER_LEN - len(b'"pad":""}')
            tail = b'"pad":"' + b"x" * pad + b'"}'
        else:
            op = rng.choices(("c", "u", "d"), weights=(6, 3, 1))[0]
            doc = envelope(table, pk, op, 1_000_000 + n, rng)
            maybe = _padded_tail(doc, table, size)
            if maybe is None:
                raise UsageError(f"record size {size} B is too small for {table} cdc payloads")
            tail = maybe
        pool.append(PoolEntry(key=str(pk).encode(), tail=tail))
    return pool
