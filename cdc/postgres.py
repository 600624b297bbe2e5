"""PostgreSQL of the local CDC stack: initdb, start, readiness, schema, slots.

Debian's PostgreSQL 15 binaries run from a data directory of our own in
``<state_dir>/data/postgres`` with ``wal_level=logical`` and TCP on 127.0.0.1
only (no Unix socket, so no shared /var/run directory is needed). PostgreSQL
refuses to run as root; when we are root the server runs as the ``postgres``
system user through ``setpriv``, which execs in place so the pid in the pid
file is the postmaster's own.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import psycopg.conninfo
import psycopg.sql

from cdc.config import CdcConfig
from cdc.errors import CdcError
from cdc.schema import SCHEMA_SQL
from kafkaval.config import Settings
from stack.processes import ManagedProcess

PROCESS_NAME = "postgres"
PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")
RUN_AS = "postgres"  # the system user the server runs as when we are root


def pg_bin(tool: str) -> str:
    """Path of a PostgreSQL server binary (initdb, postgres).

    Raises:
        CdcError: PostgreSQL is not installed.
    """
    for d in PG_BIN_DIRS:
        if (Path(d) / tool).exists():
            return str(Path(d) / tool)
    found = shutil.which(tool)
    if found:
        return found
    raise CdcError(f"{tool} not found: install PostgreSQL (Debian: apt-get install postgresql)")


def data_dir(settings: Settings) -> Path:
    return settings.path("state_dir") / "data" / "postgres"


def _run_as_prefix() -> list[str]:
    """argv prefix dropping root to the postgres user; empty when not root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        raise CdcError(
            f"running as root but there is no {RUN_AS!r} user to run PostgreSQL as: "
            "install the postgresql package or run as a normal user"
        ) from None
    return ["setpriv", f"--reuid={RUN_AS}", f"--regid={RUN_AS}", "--init-groups", "--"]


def _give_to_postgres(path: Path, settings: Settings) -> None:
    """Let the postgres user reach and own ``path`` when we run as root.

    Only folders inside our state dir are opened for traversal; a parent we do
    not own is reported instead of silently changed.
    """
    if os.geteuid() != 0:
        return
    pw = pwd.getpwnam(RUN_AS)
    path.mkdir(parents=True, exist_ok=True)
    for root, _dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for f in files:
            os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid)
    state = settings.path("state_dir")
    for parent in path.parents:
        if parent == Path("/"):
            break
        mode = parent.stat().st_mode
        if mode & 0o001:
            continue
        if parent == state or state in parent.parents:
            parent.chmod(mode | 0o001)
        else:
            raise CdcError(
                f"the {RUN_AS} user cannot enter {parent} (mode {oct(mode & 0o777)}): "
                f"chmod o+x {parent} or set state_dir to a reachable folder"
            )


def initdb(settings: Settings, cfg: CdcConfig) -> Path:
    """Create the database cluster once (superuser ``cfg.pg_user`` with a password).

    Raises:
        CdcError: initdb failed (its log is named).
    """
    ddir = data_dir(settings)
    if (ddir / "PG_VERSION").exists():
        return ddir
    logs = settings.path("state_dir") / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "postgres-initdb.log"
    if ddir.exists():
        shutil.rmtree(ddir)  # a half-made cluster from an interrupted initdb
    _give_to_postgres(ddir, settings)
    pwfile = ddir.parent / ".pg-password"
    pwfile.write_text(cfg.pg_password + "\n")
    try:
        _give_to_postgres_file(pwfile)
        cmd = _run_as_prefix() + [
            pg_bin("initdb"),
            "-D",
            str(ddir),
            "-U",
            cfg.pg_user,
            f"--pwfile={pwfile}",
            # Password checks on TCP (the only way in); local has no socket anyway.
            "--auth-host=scram-sha-256",
            "--auth-local=peer",
            "-E",
            "UTF8",
            "--locale=C",
        ]
        with log.open("w") as out:
            rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT).returncode
    finally:
        pwfile.unlink(missing_ok=True)
    if rc != 0:
        raise CdcError(f"initdb failed (exit {rc}); read {log}")
    return ddir


def _give_to_postgres_file(path: Path) -> None:
    if os.geteuid() == 0:
        pw = pwd.getpwnam(RUN_AS)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    path.chmod(0o600)


def process_spec(settings: Settings, cfg: CdcConfig) -> ManagedProcess:
    """The postmaster as a managed process (pid file ``postgres.json``)."""
    state = settings.path("state_dir")
    options = {
        "listen_addresses": cfg.pg_host,
        "port": cfg.pg_port,
        "unix_socket_directories": "",
        # Debezium reads the WAL through a logical replication slot.
        "wal_level": "logical",
        "max_wal_senders": 10,
        "max_replication_slots": 10,
        # A dead Connect worker's walsender is noticed quickly after a SIGKILL.
        "wal_sender_timeout": "10s",
        "max_connections": 50,
        "shared_buffers": "128MB",
    }
    argv = _run_as_prefix() + [pg_bin("postgres"), "-D", str(data_dir(settings))]
    for key, value in options.items():
        argv += ["-c", f"{key}={value}"]
    return ManagedProcess(
        name=PROCESS_NAME, argv=argv, log=state / "logs" / "postgres.log", pid_dir=state / "pids"
    )


def conninfo(cfg: CdcConfig, dbname: str | None = None) -> str:
    return psycopg.conninfo.make_conninfo(
        host=cfg.pg_host,
        port=cfg.pg_port,
        user=cfg.pg_user,
        password=cfg.pg_password,
        dbname=dbname or cfg.pg_database,
        connect_timeout=5,
        application_name="kafkaval",
    )


def describe_error(cfg: CdcConfig, e: psycopg.Error) -> str:
    """One line naming the cause and the fix of a connection failure."""
    text = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
    where = f"PostgreSQL at {cfg.pg_host}:{cfg.pg_port}"
    if "password authentication failed" in str(e) or "no password supplied" in str(e):
        return f"{where} rejected user {cfg.pg_user!r}: wrong password; fix pg_user/pg_password"
    if "does not exist" in str(e) and "database" in str(e):
        return f"{where} has no database {cfg.pg_database!r}: run `kafkaval cdc up` first"
    if "Connection refused" in str(e) or "connection failed" in str(e):
        return f"{where} is not reachable ({text}); start it with `kafkaval cdc up` or fix pg_port"
    return f"{where}: {text}"


@contextmanager
def connect(
    cfg: CdcConfig, dbname: str | None = None, autocommit: bool = True
) -> Iterator[psycopg.Connection]:
    """A connection to the CDC database, errors turned into one-line CdcErrors.

    Raises:
        CdcError: unreachable, wrong credentials, missing database.
    """
    try:
        conn = psycopg.connect(conninfo(cfg, dbname), autocommit=autocommit)
    except psycopg.Error as e:
        raise CdcError(describe_error(cfg, e)) from e
    try:
        yield conn
    finally:
        conn.close()


def is_ready(cfg: CdcConfig) -> bool:
    try:
        with psycopg.connect(conninfo(cfg, "postgres"), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError as e:
        if "password authentication failed" in str(e):
            raise CdcError(describe_error(cfg, e)) from e
        return False


def ensure_database(cfg: CdcConfig) -> None:
    """Create the database (if missing) and the tables.

    Raises:
        CdcError: the server cannot be reached or rejects us.
    """
    with connect(cfg, "postgres") as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (cfg.pg_database,)
        ).fetchone()
        if not exists:
            name = psycopg.sql.Identifier(cfg.pg_database)
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(name))
    with connect(cfg) as conn:
        wal = conn.execute("SHOW wal_level").fetchone()
        if not wal or wal[0] != "logical":
            raise CdcError(
                f"PostgreSQL at {cfg.pg_host}:{cfg.pg_port} has wal_level={wal and wal[0]}; "
                "Debezium needs wal_level=logical (set it and restart PostgreSQL)"
            )
        conn.execute(SCHEMA_SQL)


def slot_state(cfg: CdcConfig) -> tuple[bool, bool]:
    """(exists, active) of the connector's replication slot."""
    with connect(cfg) as conn:
        row = conn.execute(
            "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (cfg.slot_name,)
        ).fetchone()
    return (row is not None, bool(row and row[0]))


def drop_slot(cfg: CdcConfig) -> bool:
    """Drop the connector's replication slot if it exists and is idle; True if dropped.

    Raises:
        CdcError: the slot is in use by a running walsender (a connector still runs).
    """
    exists, active = slot_state(cfg)
    if not exists:
        return False
    if active:
        raise CdcError(
            f"replication slot {cfg.slot_name!r} is in use by a running connector: stop or "
            "delete the connector first (kafkaval cdc down)"
        )
    with connect(cfg) as conn:
        conn.execute("SELECT pg_drop_replication_slot(%s)", (cfg.slot_name,))
    return True


def drop_publication(cfg: CdcConfig) -> None:
    with connect(cfg) as conn:
        conn.execute(
            psycopg.sql.SQL("DROP PUBLICATION IF EXISTS {}").format(
                psycopg.sql.Identifier(cfg.publication_name)
            )
        )
