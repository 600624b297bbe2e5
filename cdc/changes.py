"""Committed changes driven into the source tables, and the ledger of them.

Each change is one autocommitted statement (its own transaction) with
``RETURNING id, version, txid``, so when the call returns the change is
committed and we know its identity: (table, id, op, version). Inserts make
version 1, each update adds 1, a delete returns the version it removed.
Changes are paced at a target rate by the intended-time schedule of
`kafkaval.pacing`, bounded in count and time. A statement that fails leaves
its change indeterminate (committed or not, we cannot tell): it is counted,
never put in the ledger.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable, Iterable

import psycopg

from cdc import postgres
from cdc.config import TABLES, CdcConfig
from cdc.errors import CdcError
from kafkaval.errors import UsageError
from kafkaval.pacing import Phase, paced
from kafkaval.record_types import ChangeMixEntry

OPS = ("c", "u", "d")
# Most traffic on comments, as on a video site; users change least.
TABLE_WEIGHTS = {"videos": 0.3, "users": 0.2, "comments": 0.5}

INSERT_SQL = {
    "users": "INSERT INTO users (username, email, country) VALUES (%s, %s, %s)",
    "videos": "INSERT INTO videos (owner_id, title, description, duration_seconds) "
    "VALUES (%s, %s, %s, %s)",
    "comments": "INSERT INTO comments (video_id, user_id, body) VALUES (%s, %s, %s)",
}
UPDATE_SQL = {
    "users": "UPDATE users SET email = %s, version = version + 1 WHERE id = %s",
    "videos": "UPDATE videos SET view_count = view_count + %s, version = version + 1 WHERE id = %s",
    "comments": "UPDATE comments SET likes = likes + %s, version = version + 1 WHERE id = %s",
}
RETURNING = " RETURNING id, version, pg_current_xact_id()::text::bigint"


@dataclasses.dataclass(frozen=True)
class Change:
    """One committed change: what the checker must find in the change events."""

    table: str
    pk: int
    op: str  # c (insert), u (update), d (delete): Debezium's op codes
    version: int
    txid: int
    committed_at_ms: int  # wall clock, to compare with the event's source.ts_ms
    committed_mono: float  # monotonic, to place the change relative to a fault
    phase: str = ""

    @property
    def key(self) -> tuple[str, int, str, int]:
        return (self.table, self.pk, self.op, self.version)


@dataclasses.dataclass(frozen=True)
class ChangeMix:
    """Shares of inserts, updates and deletes (normalised to sum 1)."""

    inserts: float = 0.5
    updates: float = 0.35
    deletes: float = 0.15

    @classmethod
    def parse(cls, text: str) -> ChangeMix:
        """``"50:35:15"`` (inserts:updates:deletes, any scale).

        Raises:
            UsageError: not three non-negative numbers with a positive insert share.
        """
        try:
            parts = [float(p) for p in text.split(":")]
        except ValueError:
            parts = []
        if len(parts) != 3 or min(parts) < 0 or parts[0] <= 0:
            raise UsageError(
                f"bad change mix {text!r}: write inserts:updates:deletes, e.g. 50:35:15 "
                "(inserts > 0, so updates and deletes have rows to work on)"
            )
        total = sum(parts)
        return cls(parts[0] / total, parts[1] / total, parts[2] / total)

    def as_record(self) -> ChangeMixEntry:
        """The shares as a run record states them."""
        return {"inserts": self.inserts, "updates": self.updates, "deletes": self.deletes}


class Ledger:
    """Every committed change, in commit order; safe to append from one driver thread."""

    def __init__(self, on_add: Callable[[Change], None] | None = None) -> None:
        self._changes: list[Change] = []
        self._lock = threading.Lock()
        self._on_add = on_add  # e.g. a Prometheus counter
        self.indeterminate = 0

    def add(self, change: Change) -> None:
        with self._lock:
            self._changes.append(change)
        if self._on_add is not None:
            self._on_add(change)

    def changes(self) -> list[Change]:
        with self._lock:
            return list(self._changes)

    def __len__(self) -> int:
        with self._lock:
            return len(self._changes)

    def committed_between(self, start_mono: float, end_mono: float, phase: str = "") -> int:
        """How many changes (of ``phase``, if given) committed in [start, end]."""
        return sum(
            1
            for c in self.changes()
            if start_mono <= c.committed_mono <= end_mono and (not phase or c.phase == phase)
        )


class ChangeDriver:
    """Drives paced changes into the tables and records each one in a ledger.

    Args:
        cfg: where PostgreSQL is.
        ledger: where committed changes go.
        mix: shares of inserts/updates/deletes.
        rng: random source (tests pass a seeded one).
        clock / wall: monotonic and wall clocks (injectable).
    """

    def __init__(
        self,
        cfg: CdcConfig,
        ledger: Ledger,
        mix: ChangeMix | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.ledger = ledger
        self.mix = mix or ChangeMix()
        self.rng = rng or random.Random()
        self.clock = clock
        self.wall = wall
        self.live: dict[str, list[int]] = {t: [] for t in TABLES}
        self.stop_event = threading.Event()
        self.error: str | None = None

    def load_live_ids(self, conn: psycopg.Connection, limit: int = 20000) -> None:
        """Remember existing rows (the newest ``limit`` per table) for updates and deletes."""
        for table in TABLES:
            rows = conn.execute(
                f"SELECT id FROM {table} ORDER BY id DESC LIMIT %s",  # noqa: S608 (fixed names)
                (limit,),
            ).fetchall()
            self.live[table] = [r[0] for r in rows]

    def choose(self) -> tuple[str, str]:
        """(table, op) for the next change; an update/delete on an empty table inserts."""
        table = self.rng.choices(list(TABLE_WEIGHTS), weights=list(TABLE_WEIGHTS.values()))[0]
        op = self.rng.choices(OPS, weights=[self.mix.inserts, self.mix.updates, self.mix.deletes])[
            0
        ]
        if op != "c" and not self.live[table]:
            op = "c"
        return table, op

    def _params(self, table: str, op: str) -> tuple[str, tuple[object, ...], int | None]:
        r = self.rng
        if op == "c":
            n = r.randrange(1_000_000)
            values: dict[str, tuple[object, ...]] = {
                "users": (f"user{n}", f"user{n}@example.com", r.choice(["US", "DE", "FR", "IN"])),
                "videos": (r.randrange(1, 10_000), f"Video {n}", "a clip", r.randrange(10, 3600)),
                "comments": (r.randrange(1, 10_000), r.randrange(1, 10_000), f"comment {n}"),
            }
            return INSERT_SQL[table] + RETURNING, values[table], None
        pool = self.live[table]
        idx = r.randrange(len(pool))
        pk = pool[idx]
        if op == "u":
            arg: object = f"new{r.randrange(1_000_000)}@example.com" if table == "users" else 1
            return UPDATE_SQL[table] + RETURNING, (arg, pk), None
        pool[idx] = pool[-1]
        pool.pop()  # a deleted row is never updated or deleted again
        return f"DELETE FROM {table} WHERE id = %s" + RETURNING, (pk,), pk

    def apply_one(self, conn: psycopg.Connection, phase: str) -> Change | None:
        """Commit one change and record it; None if the row was gone (nothing changed).

        Raises:
            psycopg.Error: the statement failed (the change is indeterminate).
        """
        table, op = self.choose()
        sql, params, _deleted = self._params(table, op)
        row = conn.execute(sql, params).fetchone()  # autocommit: committed on return
        if row is None:
            return None
        change = Change(
            table=table,
            pk=int(row[0]),
            op=op,
            version=int(row[1]),
            txid=int(row[2]),
            committed_at_ms=int(self.wall() * 1000),
            committed_mono=self.clock(),
            phase=phase,
        )
        if op == "c":
            self.live[table].append(change.pk)
        self.ledger.add(change)
        return change

    def run(self, rate: float, max_changes: int, max_seconds: float, phase: str = "") -> int:
        """Commit changes at ``rate``/s until ``max_changes``, ``max_seconds`` or stop().

        Returns the number committed. A database error stops the run and is
        kept in ``self.error`` (the change in flight counted as indeterminate).

        Raises:
            UsageError: rate, count or duration not positive.
            CdcError: PostgreSQL cannot be reached at the start.
        """
        if rate <= 0 or max_changes <= 0 or max_seconds <= 0:
            raise UsageError("change rate, count and duration must all be > 0")
        done = 0
        with postgres.connect(self.cfg) as conn:
            deadline = self.clock() + max_seconds
            # The intended-time schedule of kafkaval.pacing: no drift from slow calls.
            for _ in paced(
                [Phase(max_changes, rate)],
                self.clock,
                wait=self.stop_event.wait,
                running=lambda: not self.stop_event.is_set(),
                deadline=deadline,
            ):
                try:
                    # A row found gone changed nothing: another change takes its slot.
                    while self.apply_one(conn, phase) is None:
                        if self.stop_event.is_set() or self.clock() >= deadline:
                            return done
                except psycopg.Error as e:
                    self.ledger.indeterminate += 1
                    self.error = postgres.describe_error(self.cfg, e)
                    break
                done += 1
        return done

    def stop(self) -> None:
        self.stop_event.set()


def run_in_thread(
    driver: ChangeDriver, rate: float, max_changes: int, max_seconds: float, phase: str
) -> threading.Thread:
    """Start ``driver.run`` in a daemon thread (errors land in ``driver.error``)."""

    def target() -> None:
        try:
            driver.run(rate, max_changes, max_seconds, phase)
        except CdcError as e:
            driver.error = str(e)

    thread = threading.Thread(target=target, name=f"cdc-changes-{phase}", daemon=True)
    thread.start()
    return thread


def keys_of(changes: Iterable[Change]) -> set[tuple[str, int, str, int]]:
    return {c.key for c in changes}
