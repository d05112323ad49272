"""The connection, transactions and migrations: SQLite (the embedded default) or PostgreSQL.

Every query and write in the gateway lives in this package; nothing outside it imports
peewee or the models. Work is claimed with a lease, which behaves the same on SQLite and
PostgreSQL: two workers, on one host or several, never hold the same item, and an item
whose worker died is taken again once its lease has run out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import logging
import os
import threading
import time
from pathlib import Path

import peewee as pw
from playhouse import db_url

from gateway.db.migrations import MIGRATIONS
from gateway.db.models import SchemaVersion, db

log = logging.getLogger(__name__)


# journal_size_limit: once checkpointed, the WAL file is cut back to 64 MB, so a burst (or a
# spell with the disk full) does not leave a WAL that fills the disk again.
SQLITE_PRAGMAS = {"journal_mode": "wal", "synchronous": "full", "busy_timeout": 30000,
                  "foreign_keys": 1, "journal_size_limit": 64 * 1024 * 1024}


def utc(moment: dt.datetime) -> dt.datetime:
    """The naive-UTC form the tables hold."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def as_datetime(value: object) -> dt.datetime:
    """A datetime column's value as a datetime (some drivers hand back text)."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def first_line(error: BaseException) -> str:
    """What went wrong, in one line (a driver's message can run to several)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class _Transactions(threading.local):
    """Writes a module holds back to the end of this thread's transaction (`defer`), written
    just before its COMMIT; those made inside a savepoint that
    is rolled back are dropped with it, and all of them with a rolled-back transaction. The
    audit trail uses it: its lock on the chain is then held for the last moment of a
    transaction, not the whole of it."""

    def __init__(self):
        self.pending: list = []
        self.marks: list[tuple[str, int]] = []   # savepoints open, and how much was pending at each

    def mark(self, sql: str) -> None:
        head = sql[:22].upper()
        if not head.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            return
        name = sql.split()[-1].rstrip(";")
        if head.startswith("SAVEPOINT"):
            self.marks.append((name, len(self.pending)))
            return
        names = [n for n, _ in self.marks]
        if name not in names:
            return
        at = names.index(name)
        if head.startswith("ROLLBACK"):
            del self.pending[self.marks[at][1]:]
            del self.marks[at + 1:]
        else:
            del self.marks[at:]

    def ended(self) -> None:
        self.pending, self.marks = [], []


transactions = _Transactions()


def defer(write, item: object) -> None:
    """Hold `item` to the end of this thread's transaction, when `write` is given, in order,
    every item held for it (just before the COMMIT)."""
    transactions.pending.append((write, item))


def _before_commit() -> None:
    pending = transactions.pending
    transactions.ended()
    for write in dict.fromkeys(w for w, _ in pending):
        write([item for w, item in pending if w is write])


class _SqliteDatabase(pw.SqliteDatabase):
    """SQLite whose writers wait their turn on a lock, not in SQLite's busy handler, which
    sleeps 1, 2, 5, 10 ms and more between tries: under the worker's writes that put about
    18 ms on every message of a single SMTP session (bench/smtp_intake.py).

    Threads of one process queue on a threading.Lock; processes (the daemon's pipeline
    process, the CLI) then queue on an flock of `<database>-writer.lock`, which wakes the
    next writer the moment the last one lets go. A process waits for that lock while holding
    a second one, `<database>-turnstile.lock`, which the writer must pass before it can take
    the lock again: under contention the processes take turns, and a process writing back to
    back cannot starve the other. SQLite's own locking still guards the data: a writer that
    ignores the lock files only meets the busy timeout, as before."""

    WRITES = ("insert", "update", "delete", "replace")

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        self._writer = threading.Lock()
        self._holding = threading.local()
        self._lock_paths = () if database == ":memory:" else (f"{database}-turnstile.lock",
                                                               f"{database}-writer.lock")
        self._lock_fds: tuple[int, int] | None = None
        self._lock_pid = 0

    def _lock_files(self) -> tuple[int, int] | None:
        if not self._lock_paths:
            return None
        if self._lock_pid != os.getpid():  # opened afresh in each process
            try:  # read-only is enough for flock, and works whoever created the files
                self._lock_fds = tuple(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
                                       for path in self._lock_paths)
            except OSError:
                self._lock_fds = None  # e.g. a read-only folder: SQLite's busy timeout still applies
            self._lock_pid = os.getpid()
        return self._lock_fds

    def _take(self) -> None:
        self._writer.acquire()
        fds = self._lock_files()
        if fds is not None:
            turnstile, writer = fds
            try:
                fcntl.flock(turnstile, fcntl.LOCK_EX)
                try:
                    fcntl.flock(writer, fcntl.LOCK_EX)
                finally:
                    fcntl.flock(turnstile, fcntl.LOCK_UN)
            except BaseException:
                self._writer.release()
                raise

    def _give(self) -> None:
        fds = self._lock_files()
        try:
            if fds is not None:
                fcntl.flock(fds[1], fcntl.LOCK_UN)
        finally:
            self._writer.release()

    def begin(self, lock_type=None):
        self._take()
        transactions.ended()
        self._holding.yes = True
        try:
            super().begin(lock_type)
        except BaseException:
            self._let_go()
            raise

    def commit(self):
        try:
            if self.connection().in_transaction:
                _before_commit()
            else:   # SQLite ended it itself (a full disk): what it held back went with it
                transactions.ended()
            super().commit()
        finally:
            self._let_go()

    def rollback(self):
        # SQLite ends a transaction itself on some errors (SQLITE_FULL: the disk is full); a
        # ROLLBACK then fails with "no transaction is active", which would hide the real error.
        transactions.ended()
        try:
            if self.connection().in_transaction:
                super().rollback()
        finally:
            self._let_go()

    def _let_go(self) -> None:
        if getattr(self._holding, "yes", False):
            self._holding.yes = False
            self._give()

    def execute_sql(self, sql, params=None):
        transactions.mark(sql)
        if sql.startswith("ROLLBACK TO SAVEPOINT") and not self.connection().in_transaction:
            return self.cursor()   # SQLite already rolled the whole transaction back (see rollback)
        # (While committing, peewee has already let go of the transaction: the writes held back
        # to its end run under the lock this thread holds.)
        if self.in_transaction() or getattr(self._holding, "yes", False) \
                or not sql.lstrip()[:7].lower().startswith(self.WRITES):
            return super().execute_sql(sql, params)
        self._take()  # a single write statement outside a transaction
        try:
            return super().execute_sql(sql, params)
        finally:
            self._give()


class _PostgresDatabase(pw.PostgresqlDatabase):
    """PostgreSQL through psycopg 3, reconnecting after the server went away (a restart, a
    failover, a cut network). Outside a transaction a statement is tried again on a fresh
    connection, after a short pause; inside one it fails (what it wrote is gone, and the
    caller's retry, not a silent replay, must decide), and the next transaction reconnects.
    The pauses are short on purpose: the SMTP door answers 451 rather than hold a client,
    and the daemon's loops wait and try again on their own."""

    PAUSES = (0.1, 0.3, 1.0)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._committing = threading.local()

    def _lost(self) -> bool:
        conn = self._state.conn
        return conn is None or conn.closed or conn.broken

    def _again(self, call, *args):
        for pause in (*self.PAUSES, None):
            try:
                result = call(*args)
            except (pw.OperationalError, pw.InterfaceError) as exc:
                if self.in_transaction() or getattr(self._committing, "yes", False) or not self._lost():
                    raise
                reason = first_line(exc)
                self._drop()
                if pause is None:
                    log.error("database unavailable (%s); giving up for now", reason)
                    raise
                log.warning("database connection lost (%s); reconnecting in %.1f s", reason, pause)
                time.sleep(pause)
                continue
            return result

    def _drop(self) -> None:
        conn = self._state.conn
        if conn is not None:
            try:
                conn.close()
            except Exception:   # already dead: nothing to close
                pass
        self._state.reset()

    def execute_sql(self, sql, params=None):
        transactions.mark(sql)
        return self._again(super().execute_sql, sql, params)

    def begin(self, *args, **kwargs):
        transactions.ended()
        return self._again(super().begin, *args, **kwargs)

    def commit(self):
        self._committing.yes = True   # the writes held back to the end of the transaction: never replayed alone
        try:
            _before_commit()
            return super().commit()
        finally:
            self._committing.yes = False

    def rollback(self):
        transactions.ended()
        if self._lost():   # the transaction died with the connection: nothing to roll back
            return None
        return super().rollback()


class _Keys:
    """The audit key given to connect(): it keys the audit trail's hashes and residents'
    pseudonyms (db.audit). It lives in the secret file, never in the database, so whoever can
    write the database cannot recompute the chain nor confirm a guessed address."""

    audit: bytes | None = None


keys = _Keys()


def connect(url: str, audit_key: bytes | None = None) -> pw.Database:
    """Open the database named by a peewee URL and bind the models to it, and the audit key
    (Settings.audit_key) to the audit trail. Without a key the trail can be read but not
    written, verified or searched by resident."""
    keys.audit = audit_key
    if url.startswith(("postgresql://", "postgres://")):
        database = _PostgresDatabase(**_postgres_params(url))
    elif url.startswith("sqlite:///"):
        file = url[len("sqlite:///"):]
        if file != ":memory:":
            Path(file).parent.mkdir(parents=True, exist_ok=True)
        # IMMEDIATE: a transaction takes the write lock when it begins, so concurrent writers
        # wait for each other (busy_timeout) instead of failing with "database is locked".
        database = _SqliteDatabase(file, pragmas=SQLITE_PRAGMAS, timeout=30, lock_type="IMMEDIATE")
    else:
        database = db_url.connect(url)
    db.initialize(database)
    return database


def _postgres_params(url: str) -> dict:
    """peewee's reading of a postgresql:// URL (user, password, host, port, database and
    ?options), for our subclass; psycopg 3 is the driver."""
    params = db_url.parse(url)
    params["prefer_psycopg3"] = True
    return params


def plain_type(name: str, model: type[pw.Model], frozen: bool = True) -> type:
    """A dataclass with one attribute per column of `model` (a foreign key by its column name,
    case_id): what this package hands out instead of rows, so callers hold values, never a
    live row that could query or save behind their back."""
    columns = [(field.column_name, object, dataclasses.field(default=None)) for field in model._meta.sorted_fields]
    kind = dataclasses.make_dataclass(name, columns, frozen=frozen)
    kind.__module__ = "gateway.db"
    return kind


def plain(row: pw.Model | None, kind: type):
    """A row as a `plain_type` value (None stays None)."""
    if row is None:
        return None
    data = row.__data__
    return kind(**{field.column_name: data.get(field.name) for field in row._meta.sorted_fields})


def postgres() -> bool:
    return isinstance(db.obj, pw.PostgresqlDatabase)


def for_update_skip_locked() -> str:
    """The clause that locks the rows a SELECT found, passing over rows another transaction
    holds (PostgreSQL). SQLite has no row locks: its one writer at a time does the same."""
    return " FOR UPDATE SKIP LOCKED" if postgres() else ""


# SQLSTATEs of failures that say nothing about the message: a deadlock, a serialisation
# failure, a lock not available, and the connection classes (08, 57P0x: the server going away).
TRANSIENT_STATES = ("40P01", "40001", "55P03", "08", "57P01", "57P02", "57P03")


def transient(error: BaseException) -> bool:
    """Whether a database error will likely pass if the work is simply tried again."""
    if not isinstance(error, (pw.OperationalError, pw.InterfaceError)):
        return False
    original = error.args[0] if error.args and isinstance(error.args[0], BaseException) else error.__context__
    state = getattr(original, "sqlstate", None) or ""
    if state:
        return state.startswith(TRANSIENT_STATES)
    return "database is locked" in str(error) or (postgres() and db.obj._lost())


def lease_skipping_locked(model: type[pw.Model], free: str, order: str, limit: int, lease: str,
                          until: dt.datetime, params: tuple) -> list[pw.Model]:
    """PostgreSQL: lease up to `limit` rows of `model` matching `free` (its placeholders bound
    by `params`), in `order`, in one statement; rows another daemon is claiming are passed
    over, not waited for. The rows as they are after the lease, in no particular order."""
    table = model._meta.table_name
    return list(pw.ModelRaw(model, f"UPDATE {table} SET lease_owner = {db.param}, lease_until = {db.param}, "
                            f"attempts = attempts + 1 WHERE id IN (SELECT id FROM {table} WHERE {free} {order} "
                            f"LIMIT {int(limit)}{for_update_skip_locked()}) RETURNING *", (lease, until, *params)))


def atomic():
    """A transaction (a savepoint when one is already open), as a context manager."""
    return db.atomic()


def close() -> None:
    """Close this thread's connection to the database, if one is open."""
    if db.obj is not None and not db.obj.is_closed():
        db.obj.close()


def migrate(now: dt.datetime) -> list[str]:
    """Apply the migrations not yet applied; return their names."""
    applied = []
    with db.atomic():
        db.create_tables([SchemaVersion])
        done = {row.version for row in SchemaVersion.select()}
        for version, name, apply in MIGRATIONS:
            if version not in done:
                apply(db.obj)
                SchemaVersion.create(version=version, name=name, applied_at=utc(now))
                applied.append(f"{version:04d}_{name}")
    return applied


class Unreachable(Exception):
    """The database server could not be connected to (down, or the role, database or password
    refused); the message is the server's or the driver's reason, in one line."""


def database_exists(url: str) -> bool:
    """Whether the database the URL names is there (a SQLite file; for a server, one that
    accepts the connection and holds our tables), without creating anything. A server that
    cannot be connected to raises Unreachable: "not there" would send a person to `init`."""
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):]).is_file()
    connect(url)
    try:
        db.obj.connect(reuse_if_open=True)   # once, at once: no reconnecting pauses for a question
    except (pw.OperationalError, pw.InterfaceError) as exc:
        raise Unreachable(" ".join(first_line(exc).split())) from None
    return db.table_exists("schema_version")


def schema_is_current() -> bool:
    if not db.table_exists("schema_version"):
        return False
    done = {row.version for row in SchemaVersion.select()}
    return all(version in done for version, _, _ in MIGRATIONS)


def relaxed_durability_for_this_thread() -> None:
    """SQLite: commits on this thread's connection survive a crash of the process but not a
    power cut (synchronous=NORMAL in WAL mode). For delivery bookkeeping only: intake and the
    pipeline keep synchronous=FULL."""
    if isinstance(db.obj, pw.SqliteDatabase):
        db.execute_sql("PRAGMA synchronous = NORMAL")


def storable(text: str) -> str:
    """Envelope text as the database can hold it: bytes that were not UTF-8 (kept by the
    SMTP server as surrogates) written as \\xNN escapes. The raw message is kept whole."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# The functions below run several times for every message: plain SQL, because the ORM's
# query building cost more than SQLite answering (bench/RESULTS.md, whole path).

def _one(sql: str, *params):
    return db.execute_sql(sql.replace("?", db.param), params).fetchone()


def insert(table: str, on_conflict: str = "", **values: object) -> int | None:
    """INSERT one row; its id. Every column without a database default must be given.
    `on_conflict` ("(column) DO NOTHING") lets the database refuse a duplicate: None then."""
    columns = ", ".join(f'"{name}"' for name in values)
    marks = ", ".join([db.param] * len(values))
    conflict = f" ON CONFLICT {on_conflict}" if on_conflict else ""
    rows = db.execute_sql(f'INSERT INTO "{table}" ({columns}) VALUES ({marks}){conflict} RETURNING id',
                          tuple(values.values())).fetchall()   # read to the end: the statement finishes
    return rows[0][0] if rows else None
