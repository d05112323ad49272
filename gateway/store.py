"""Queries and writes as functions. Owns the connection and the transactions.

Work is claimed with a lease (a conditional UPDATE on one row), which behaves the same on
SQLite and PostgreSQL: two workers, on one host or several, never hold the same item, and an
item whose worker died is taken again once its lease has run out.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import threading
import uuid
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email import policy
from pathlib import Path
from typing import Iterable, Iterator

import peewee as pw
from playhouse import db_url

from gateway.migrations import MIGRATIONS
from gateway.models import (Case, CaseEvent, ImapState, Inbound, MessageRef, Outbound,
                            SchemaVersion, db)

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
        self._holding.yes = True
        try:
            super().begin(lock_type)
        except BaseException:
            self._let_go()
            raise

    def commit(self):
        try:
            super().commit()
        finally:
            self._let_go()

    def rollback(self):
        # SQLite ends a transaction itself on some errors (SQLITE_FULL: the disk is full); a
        # ROLLBACK then fails with "no transaction is active", which would hide the real error.
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
        if sql.startswith("ROLLBACK TO SAVEPOINT") and not self.connection().in_transaction:
            return self.cursor()   # SQLite already rolled the whole transaction back (see rollback)
        if self.in_transaction() or not sql.lstrip()[:7].lower().startswith(self.WRITES):
            return super().execute_sql(sql, params)
        self._take()  # a single write statement outside a transaction
        try:
            return super().execute_sql(sql, params)
        finally:
            self._give()


def connect(url: str) -> pw.Database:
    """Open the database named by a peewee URL and bind the models to it."""
    if url.startswith("sqlite:///"):
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


def database_exists(url: str) -> bool:
    """Whether the database the URL names is there (a SQLite file; for a server, one that
    accepts the connection and holds our tables), without creating anything."""
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):]).is_file()
    try:
        connect(url)
        return db.table_exists("schema_version")
    except pw.OperationalError:
        return False


def schema_is_current() -> bool:
    if not db.table_exists("schema_version"):
        return False
    done = {row.version for row in SchemaVersion.select()}
    return all(version in done for version, _, _ in MIGRATIONS)


# ---- inbound ------------------------------------------------------------------------------

def header_message_id(raw: bytes) -> str | None:
    """The Message-ID, read cheaply from the headers alone; None if absent or unreadable."""
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:65536])
        value = headers.get("Message-ID")
    except Exception:  # any bytes at all may arrive; the worker reports what is wrong
        return None
    value = str(value).strip() if value else ""
    return value[:998] or None


def relaxed_durability_for_this_thread() -> None:
    """SQLite: commits on this thread's connection survive a crash of the process but not a
    power cut (synchronous=NORMAL in WAL mode). For delivery bookkeeping only: intake and the
    pipeline keep synchronous=FULL."""
    if isinstance(db.obj, pw.SqliteDatabase):
        db.execute_sql("PRAGMA synchronous = NORMAL")


def save_inbound(raw: bytes, mail_from: str, rcpt_tos: Iterable[str], source: str,
                 now: dt.datetime, peer: str | None = None, helo: str | None = None) -> int:
    """Store a message durably; when this returns, it is committed. `peer` and `helo` are
    the SMTP client's address and HELO name (for SPF and trusted networks), None otherwise."""
    with db.atomic():
        return insert("inbound", received_at=utc(now), source=source, mail_from=storable(mail_from),
                      rcpt_tos=storable("\n".join(rcpt_tos)), raw=raw, size=len(raw), sha256=hashlib.sha256(raw).hexdigest(),
                      message_id=header_message_id(raw), state="queued", attempts=0, peer=peer, helo=helo,
                      deferrals=0)


def storable(text: str) -> str:
    """Envelope text as the database can hold it: bytes that were not UTF-8 (kept by the
    SMTP server as surrogates) written as \\xNN escapes. The raw message is kept whole."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def save_inbound_group(messages: list[tuple[bytes, str, Iterable[str], str | None, str | None]], source: str,
                       now: dt.datetime) -> list[int]:
    """Store several messages (raw, mail_from, rcpt_tos, peer, helo) in one transaction (the
    SMTP door's group commit)."""
    with db.atomic():
        return [save_inbound(raw, mail_from, rcpt_tos, source, now, peer, helo)
                for raw, mail_from, rcpt_tos, peer, helo in messages]


def save_inbound_once(raw: bytes, mail_from: str, rcpt_tos: Iterable[str], source: str,
                      now: dt.datetime) -> tuple[int, bool]:
    """Store a message unless these exact bytes are already stored; (id, whether it is new).
    A mailbox read again after a crash hands us the same bytes: they must not count twice."""
    digest = hashlib.sha256(raw).hexdigest()
    with db.atomic():
        earlier = Inbound.select(Inbound.id).where(Inbound.sha256 == digest).order_by(Inbound.id).first()
        if earlier is not None:
            return earlier.id, False
        return save_inbound(raw, mail_from, rcpt_tos, source, now), True


def imap_state(mailbox: str) -> ImapState | None:
    return ImapState.get_or_none(ImapState.mailbox == mailbox)


def set_imap_state(mailbox: str, uidvalidity: int, last_uid: int, now: dt.datetime) -> None:
    with db.atomic():
        updated = (ImapState.update(uidvalidity=uidvalidity, last_uid=last_uid, updated_at=utc(now))
                   .where(ImapState.mailbox == mailbox).execute())
        if not updated:
            ImapState.create(mailbox=mailbox, uidvalidity=uidvalidity, last_uid=last_uid, updated_at=utc(now))


def claim_inbound(owner: str, now: dt.datetime, lease_seconds: int, limit: int = 1) -> list[Inbound]:
    """Lease up to `limit` of the oldest stored messages nobody holds (one write for them all),
    oldest first; [] when there are none."""
    now = utc(now)
    free = "state = 'queued' AND (lease_until IS NULL OR lease_until < {p})".format(p=db.param)
    candidates = [row[0] for row in db.execute_sql(
        f"SELECT id FROM inbound WHERE {free} ORDER BY id LIMIT {int(limit)}", (now,)).fetchall()]
    if not candidates:
        return []
    lease = f"{owner}#{uuid.uuid4().hex[:12]}"  # names exactly the rows this call won
    marks = ", ".join([db.param] * len(candidates))
    # A conditional UPDATE: of two workers, only one wins each message.
    db.execute_sql(f"UPDATE inbound SET lease_owner = {db.param}, lease_until = {db.param}, attempts = attempts + 1 "
                   f"WHERE id IN ({marks}) AND {free}",
                   (lease, now + dt.timedelta(seconds=lease_seconds), *candidates, now))
    return list(pw.ModelRaw(Inbound, f"SELECT * FROM inbound WHERE lease_owner = {db.param} ORDER BY id", (lease,)))


def backlog(limit: int, now: dt.datetime, below_priority: int, outbox: bool = True) -> int:
    """How much mail waits on us: stored messages the pipeline has not yet handled, plus (with
    `outbox`) outbox messages due now with a priority below `below_priority` (case mail, not
    bulletins, which may queue by the hundred thousand). Each part is counted up to `limit`."""
    waiting_in = _one("SELECT count(*) FROM (SELECT 1 FROM inbound WHERE state = 'queued' LIMIT ?) AS t", limit)[0]
    if not outbox:
        return waiting_in
    waiting_out = _one("SELECT count(*) FROM (SELECT 1 FROM outbound WHERE state = 'queued' AND priority < ? "
                       "AND next_attempt_at <= ? LIMIT ?) AS t", below_priority, utc(now), limit)[0]
    return waiting_in + waiting_out


def finish_inbound(inbound_id: int, kind: str, case: Case | None, now: dt.datetime, why: str | None = None) -> None:
    """Done with a message; `why` says why it was set aside (quarantined, held), for people."""
    db.execute_sql("UPDATE inbound SET state = 'done', kind = {p}, case_id = {p}, processed_at = {p}, "
                   "lease_owner = NULL, lease_until = NULL, stage = NULL, error = {p} WHERE id = {p}"
                   .format(p=db.param), (kind, case.id if case else None, utc(now), why, inbound_id))


def defer_inbound(inbound_id: int, until: dt.datetime, why: str) -> None:
    """Put a message back to wait until `until` (its sender could not be checked: DNS failed).
    Its attempts start again: waiting for DNS is not the message failing."""
    db.execute_sql("UPDATE inbound SET state = 'queued', lease_owner = NULL, lease_until = {p}, attempts = 0, "
                   "deferrals = deferrals + 1, error = {p} WHERE id = {p}".format(p=db.param),
                   (utc(until), why[:500], inbound_id))


def park_inbound(inbound_id: int, stage: str, error: str, now: dt.datetime) -> None:
    """Set a message aside after an unexpected failure, with the stage and the reason."""
    with db.atomic():
        Inbound.update(state="parked", stage=stage, error=error, processed_at=utc(now),
                       lease_owner=None, lease_until=None).where(Inbound.id == inbound_id).execute()


def parked_inbound() -> list[Inbound]:
    return list(Inbound.select(Inbound.id, Inbound.received_at, Inbound.mail_from, Inbound.stage,
                               Inbound.error, Inbound.attempts)
                .where(Inbound.state == "parked").order_by(Inbound.id))


def retry_parked(ids: list[int] | None) -> int:
    """Put parked messages back in the queue (all of them when ids is None)."""
    query = Inbound.update(state="queued", stage=None, error=None).where(Inbound.state == "parked")
    if ids is not None:
        query = query.where(Inbound.id.in_(ids))
    return query.execute()


# ---- queues a person looks after: parked and quarantined mail in, failed deliveries out -------

QUEUES = ("parked", "quarantine", "failed")


def queue_items(queue: str | None = None) -> list[dict]:
    """Items needing a person, oldest first: in:<id> for inbound mail, out:<id> for deliveries."""
    items = []
    parked = Inbound.state == "parked"
    quarantined = (Inbound.state == "done") & (Inbound.kind == "quarantine")
    inbound_where = {None: parked | quarantined, "parked": parked, "quarantine": quarantined}
    if queue in inbound_where:
        where = inbound_where[queue]
        for row in Inbound.select(Inbound.id, Inbound.received_at, Inbound.mail_from, Inbound.state, Inbound.kind,
                                  Inbound.stage, Inbound.error, Inbound.size).where(where).order_by(Inbound.id):
            items.append({"id": f"in:{row.id}", "queue": "parked" if row.state == "parked" else "quarantine",
                          "at": str(row.received_at), "who": row.mail_from, "size": row.size,
                          "why": (row.error or "").splitlines()[-1][:200] if row.error else row.stage or ""})
    if queue in (None, "failed"):
        for row in Outbound.select(Outbound.id, Outbound.created_at, Outbound.rcpt_to, Outbound.purpose,
                                   Outbound.last_error, Outbound.attempts).where(Outbound.state == "failed") \
                .order_by(Outbound.id):
            items.append({"id": f"out:{row.id}", "queue": "failed", "at": str(row.created_at), "who": row.rcpt_to,
                          "purpose": row.purpose, "attempts": row.attempts, "why": (row.last_error or "")[:200]})
    return items


def queue_item(item_id: str) -> Inbound | Outbound | None:
    kind, _, number = item_id.partition(":")
    if not number.isdigit() or int(number) >= 2 ** 63:
        return None
    model = {"in": Inbound, "out": Outbound}.get(kind)
    return model.get_or_none(model.id == int(number)) if model else None


def requeue(item_id: str, now: dt.datetime, deadline_hours: float) -> str | None:
    """Put an item back: a parked message into the pipeline, a failed delivery into the
    outbox with a fresh deadline. Returns what was done, or None if it cannot be retried."""
    row = queue_item(item_id)
    if isinstance(row, Inbound) and row.state == "parked":
        Inbound.update(state="queued", stage=None, error=None, attempts=0).where(Inbound.id == row.id).execute()
        return "back in the inbound queue"
    if isinstance(row, Outbound) and row.state == "failed":
        Outbound.update(state="queued", next_attempt_at=utc(now), lease_owner=None, lease_until=None, attempts=0,
                        deadline=utc(now) + dt.timedelta(hours=deadline_hours)).where(Outbound.id == row.id).execute()
        return "back in the outbox"
    return None


def release_quarantined(item_id: str) -> bool:
    """Let a quarantined message through: it goes through the pipeline without the spam check."""
    row = queue_item(item_id)
    if not (isinstance(row, Inbound) and row.state == "done" and row.kind == "quarantine"):
        return False
    Inbound.update(state="queued", kind="released", stage=None, error=None, attempts=0) \
        .where(Inbound.id == row.id).execute()
    return True


def purge(item_id: str) -> bool:
    """Delete a quarantined message for good (spam a person has looked at). Its bytes and
    envelope go; a bare row stays, so that its id is never handed out again (SQLite would
    reuse the highest id of a deleted row, and log lines would then be ambiguous)."""
    row = queue_item(item_id)
    if not (isinstance(row, Inbound) and row.state == "done" and row.kind == "quarantine"):
        return False
    Inbound.update(state="purged", kind="purged", raw=b"", size=0, mail_from="", rcpt_tos="", message_id=None,
                   sha256="", error=None, stage=None).where(Inbound.id == row.id).execute()
    return True


# ---- cases ----------------------------------------------------------------------------------

def next_reference(prefix: str, year: int) -> str:
    """A new case reference, e.g. SRG-2026-0042. Call inside the case's transaction."""
    rows = db.execute_sql(f"UPDATE reference_counter SET last = last + 1 WHERE year = {db.param} RETURNING last",
                          (year,)).fetchall()   # read to the end, so the statement is finished
    if not rows:   # the year's first case: an upsert, so two daemons starting a year cannot collide
        rows = db.execute_sql(f"INSERT INTO reference_counter (year, last) VALUES ({db.param}, 1) ON CONFLICT (year) "
                              "DO UPDATE SET last = reference_counter.last + 1 RETURNING last", (year,)).fetchall()
    return f"{prefix}-{year}-{rows[0][0]:04d}"


def case_by_reference(reference: str) -> Case | None:
    return Case.get_or_none(Case.reference == reference.upper())


def case_by_message_ids(message_ids: Iterable[str]) -> Case | None:
    """The case that owns the most recent of these Message-IDs, if any."""
    ids = [m for m in message_ids if m]
    if not ids:
        return None
    refs = {r.message_id: r for r in MessageRef.select().where(MessageRef.message_id.in_(ids))}
    for message_id in reversed(ids):  # References lists the newest last
        if message_id in refs:
            return refs[message_id].case
    return None


# The functions below run several times for every message: plain SQL, because the ORM's
# query building cost more than SQLite answering (bench/RESULTS.md, whole path).

def _one(sql: str, *params):
    return db.execute_sql(sql.replace("?", db.param), params).fetchone()


def insert(table: str, **values: object) -> int:
    """INSERT one row; its id. Every column without a database default must be given."""
    columns = ", ".join(f'"{name}"' for name in values)
    marks = ", ".join([db.param] * len(values))
    return db.execute_sql(f'INSERT INTO "{table}" ({columns}) VALUES ({marks}) RETURNING id',
                          tuple(values.values())).fetchall()[0][0]   # read to the end: the statement finishes


def open_case(**values: object) -> Case:
    """Insert a new case (call inside the message's transaction) and return it."""
    values = {"status": "open", "urgent": False} | values
    return Case(id=insert("case", **values), **values)


def message_id_known(message_id: str | None) -> bool:
    return bool(message_id) and _one("SELECT 1 FROM message_ref WHERE message_id = ? LIMIT 1", message_id) is not None


def remember_message_id(message_id: str | None, case: Case, direction: str) -> None:
    if message_id:  # the first case to claim a Message-ID keeps it
        db.execute_sql(f"INSERT INTO message_ref (message_id, case_id, direction) VALUES ({db.param}, {db.param}, "
                       f"{db.param}) ON CONFLICT (message_id) DO NOTHING", (message_id, case.id, direction))


def add_event(case: Case, kind: str, now: dt.datetime, detail: str = "",
              inbound_id: int | None = None) -> None:
    db.execute_sql("INSERT INTO case_event (case_id, at, kind, inbound_id, detail) VALUES ({p}, {p}, {p}, {p}, {p})"
                   .format(p=db.param), (case.id, utc(now), kind, inbound_id, detail))


def cases_opened_since(resident_address: str, since: dt.datetime, limit: int) -> int:
    """How many cases a resident opened after `since`, counted up to `limit` at most (the
    count stops there: a flood of ten thousand messages must not make each one slower)."""
    return _one('SELECT count(*) FROM (SELECT 1 FROM "case" WHERE resident_address = ? AND opened_at > ? LIMIT ?) AS t',
                resident_address, utc(since), limit)[0]


def newest_case_of(resident_address: str) -> Case | None:
    row = _one('SELECT max(id) FROM "case" WHERE resident_address = ?', resident_address)
    return Case.get_by_id(row[0]) if row and row[0] is not None else None


def event_since(case: Case, kind: str, since: dt.datetime) -> bool:
    return CaseEvent.select().where((CaseEvent.case == case) & (CaseEvent.kind == kind)
                                    & (CaseEvent.at > utc(since))).exists()


def acks_since(address: str, since: dt.datetime, limit: int) -> int:
    """Acknowledgements queued to an address after `since`, counted up to `limit` at most
    (the outbox keeps them: the limit holds across restarts)."""
    return _one("SELECT count(*) FROM (SELECT 1 FROM outbound WHERE rcpt_to = ? AND purpose = 'resident_ack' "
                "AND created_at > ? LIMIT ?) AS t", address, utc(since), limit)[0]


def daemon_seen(owner: str, host: str, pid: int, started_at: dt.datetime, now: dt.datetime) -> None:
    """A running daemon's heartbeat (an upsert: the first one adds its row)."""
    with db.atomic():
        db.execute_sql("INSERT INTO daemon (owner, host, pid, started_at, last_seen) VALUES ({p}, {p}, {p}, {p}, {p}) "
                       "ON CONFLICT (owner) DO UPDATE SET last_seen = {p}".format(p=db.param),
                       (owner, host, pid, utc(started_at), utc(now), utc(now)))


def daemon_gone(owner: str) -> None:
    """A daemon that stopped cleanly takes its row away."""
    db.execute_sql("DELETE FROM daemon WHERE owner = {p}".format(p=db.param), (owner,))


def daemons() -> list[tuple[str, int, dt.datetime, dt.datetime]]:
    """(host, pid, started_at, last_seen) of every daemon that said it was running."""
    return [(host, pid, as_datetime(started), as_datetime(seen)) for host, pid, started, seen in db.execute_sql(
        "SELECT host, pid, started_at, last_seen FROM daemon ORDER BY host, pid").fetchall()]


def queued_since(purpose: str, since: dt.datetime) -> bool:
    """Whether mail of this purpose was queued after `since` (notices sent at most so often)."""
    return _one("SELECT 1 FROM outbound WHERE purpose = ? AND created_at > ? LIMIT 1", purpose, utc(since)) is not None


def acks_sent_since(since: dt.datetime, limit: int) -> int:
    """Acknowledgements to anyone delivered after `since`, counted up to `limit` at most
    ([limits] acks_per_hour: the count is read from the outbox, so it holds across restarts
    and across daemons)."""
    return _one("SELECT count(*) FROM (SELECT 1 FROM outbound WHERE purpose = 'resident_ack' AND sent_at > ? "
                "LIMIT ?) AS t", utc(since), limit)[0]


def acks_waiting() -> int:
    """Acknowledgements held back by [limits] acks_per_hour, for `gateway status`."""
    return _one("SELECT count(*) FROM outbound WHERE purpose = 'resident_ack' AND state = 'queued' "
                "AND substr(last_error, 1, 8) = 'waiting:'")[0]


def wait_for_ack_slot(outbound_id: int, at: dt.datetime, deadline: dt.datetime, why: str) -> None:
    """An acknowledgement over the hourly cap waits its turn: not an attempt, and its
    deadline moves with it (it has not failed; we are holding it)."""
    db.execute_sql("UPDATE outbound SET next_attempt_at = {p}, deadline = {p}, lease_owner = NULL, "
                   "lease_until = NULL, attempts = attempts - 1, last_error = {p} WHERE id = {p}".format(p=db.param),
                   (utc(at), utc(deadline), why, outbound_id))


SOFT_LIMIT = 5            # soft failures before an address is suppressed ...
SOFT_SPAN_DAYS = 3       # ... spread over at least this many days
SOFT_QUIET_DAYS = 7      # a quiet spell this long starts the count again


def count_soft_bounce(address: str, now: dt.datetime) -> bool:
    """Count one soft failure for an address; True when it has now failed often enough, over
    long enough, to stop writing to it (Mailman scores bounces in the same spirit)."""
    now = utc(now)
    row = _one("SELECT soft, first_at, last_at FROM bounce_score WHERE address = ?", address)
    if row is None or now - as_datetime(row[2]) > dt.timedelta(days=SOFT_QUIET_DAYS):
        db.execute_sql("DELETE FROM bounce_score WHERE address = {p}".format(p=db.param), (address,))
        db.execute_sql("INSERT INTO bounce_score (address, soft, first_at, last_at) VALUES ({p}, 1, {p}, {p})"
                       .format(p=db.param), (address, now, now))
        return False
    soft, first = row[0] + 1, as_datetime(row[1])
    db.execute_sql("UPDATE bounce_score SET soft = {p}, last_at = {p} WHERE address = {p}".format(p=db.param),
                   (soft, now, address))
    return soft >= SOFT_LIMIT and now - first >= dt.timedelta(days=SOFT_SPAN_DAYS)


def refusals_since(since: dt.datetime) -> dict[str, int]:
    """Delivery reports of refusals because of us since `since`, by reason, for `gateway status`."""
    from gateway.mail.bounce_reasons import BECAUSE_OF_US

    counts: dict[str, int] = {}
    for (why,) in db.execute_sql("SELECT error FROM inbound WHERE kind = 'bounce' AND processed_at > {p} "
                                 "AND error IS NOT NULL".format(p=db.param), (utc(since),)).fetchall():
        reason = why.split(":", 1)[0]
        if reason in BECAUSE_OF_US:
            counts[reason] = counts.get(reason, 0) + 1
    return counts


def team_message_ids(case: Case) -> list[str]:
    """Message-IDs of what the team already has on this case, oldest first."""
    rows = db.execute_sql(f"SELECT message_id FROM outbound WHERE case_id = {db.param} AND substr(purpose, 1, 5) = 'team_' "
                          "ORDER BY id", (case.id,)).fetchall()
    return [row[0] for row in rows]


def resident_thread_ids(case: Case) -> list[str]:
    """Message-IDs of the resident's side of the conversation (theirs and ours to them), oldest
    first, for In-Reply-To and References of the next message to the resident."""
    theirs = (Inbound.select(Inbound.message_id, Inbound.received_at.alias("at"))
              .where((Inbound.case == case) & Inbound.kind.in_(("resident_new", "resident_follow_up"))
                     & Inbound.message_id.is_null(False)))
    ours = (Outbound.select(Outbound.message_id, Outbound.created_at.alias("at"))
            .where((Outbound.case == case) & (Outbound.rcpt_to == case.resident_address)))
    rows = sorted([(r.at, r.message_id) for r in theirs] + [(r.at, r.message_id) for r in ours],
                  key=lambda row: str(row[0]))
    return [message_id for _, message_id in rows]


def message_count(case: Case) -> int:
    return _one("SELECT count(*) FROM message_ref WHERE case_id = ?", case.id)[0]


def case_events(case: Case) -> list[CaseEvent]:
    return list(CaseEvent.select().where(CaseEvent.case == case).order_by(CaseEvent.id))


def first_inbound_raw(case: Case) -> bytes | None:
    row = Inbound.select(Inbound.raw).where(Inbound.case == case).order_by(Inbound.id).first()
    return bytes(row.raw) if row else None


def cases(status: str | None = None, team: str | None = None) -> Iterator[Case]:
    query = Case.select().order_by(Case.id)
    if status:
        query = query.where(Case.status == status)
    if team:
        query = query.where(Case.team == team)
    return iter(query)


# ---- outbound -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outgoing:
    """A rendered message ready for the outbox."""

    purpose: str
    mail_from: str
    rcpt_to: str
    message_id: str
    raw: bytes
    priority: int = 5


def enqueue(mail: Outgoing, now: dt.datetime, deadline: dt.datetime, case: Case | None = None,
            inbound_id: int | None = None) -> int:
    """Add a message to the outbox; call inside the transaction that made it necessary."""
    return insert("outbound", created_at=utc(now), case_id=case.id if case else None, inbound_id=inbound_id,
                  purpose=mail.purpose, mail_from=mail.mail_from, rcpt_to=mail.rcpt_to, message_id=mail.message_id,
                  raw=mail.raw, priority=mail.priority, next_attempt_at=utc(now), deadline=utc(deadline),
                  state="queued", attempts=0)


def claim_outbound_batch(owner: str, now: dt.datetime, lease_seconds: int, limit: int) -> list[Outbound]:
    """Lease up to `limit` due messages at once, most urgent first (one write, not `limit`).

    Plain SQL: this runs for every batch, and the ORM's query building cost more than the
    queries themselves (bench/bulletin.py). The same statements work on SQLite and PostgreSQL."""
    now = utc(now)
    free = "state = 'queued' AND next_attempt_at <= {p} AND (lease_until IS NULL OR lease_until < {p})"
    free = free.format(p=db.param)
    order = "ORDER BY priority, next_attempt_at, id"
    candidates = [row[0] for row in db.execute_sql(
        f"SELECT id FROM outbound WHERE {free} {order} LIMIT {int(limit)}", (now, now)).fetchall()]
    if not candidates:
        return []
    lease = f"{owner}#{uuid.uuid4().hex[:12]}"  # names exactly the rows this call won
    ids = ", ".join([db.param] * len(candidates))
    # "state || ''" keeps the planner on the primary key: offered the index on state, SQLite
    # walked every queued row (a 200,000-row bulletin made each claim take 40 ms).
    still_free = free.replace("state = 'queued'", "state || '' = 'queued'")
    with db.atomic():
        db.execute_sql(f"UPDATE outbound SET lease_owner = {db.param}, lease_until = {db.param}, "
                       f"attempts = attempts + 1 WHERE id IN ({ids}) AND {still_free}",
                       (lease, now + dt.timedelta(seconds=lease_seconds), *candidates, now, now))
    return list(Outbound.select().where(Outbound.id.in_(candidates) & (Outbound.lease_owner == lease))
                .order_by(Outbound.priority, Outbound.next_attempt_at, Outbound.id))


@dataclass(frozen=True)
class Person:
    id: int
    address: str
    name: str
    language: str = ""   # "" unknown: bulletins go to them in Welsh and English


def subscribers_for_sending(subscriber_ids: list[int]) -> tuple[dict[int, Person], set[tuple[int, str]], set[str]]:
    """For a batch of bulletin copies: the subscribers, their active (subscriber, area)
    pairs, and which of their addresses are suppressed. Three plain queries."""
    if not subscriber_ids:
        return {}, set(), set()
    ids = ", ".join([db.param] * len(subscriber_ids))
    people = {row[0]: Person(*row) for row in db.execute_sql(
        f"SELECT id, address, name, language FROM subscriber WHERE id IN ({ids})", subscriber_ids).fetchall()}
    # The state is checked here, not in SQL: given both, SQLite walks the index on state
    # (every active subscription) instead of the one on subscriber_id.
    active = {(row[0], row[1]) for row in db.execute_sql(
        f"SELECT subscriber_id, area, state FROM subscription WHERE subscriber_id IN ({ids})",
        subscriber_ids).fetchall() if row[2] == "active"}
    return people, active, suppressed_among([p.address for p in people.values()])


def suppressed_among(addresses: list[str]) -> set[str]:
    """Which of these addresses nothing optional may be sent to."""
    if not addresses:
        return set()
    marks = ", ".join([db.param] * len(addresses))
    return {row[0] for row in db.execute_sql(f"SELECT address FROM suppression WHERE address IN ({marks})",
                                             addresses).fetchall()}


def renew_leases(outbound_ids: list[int], lease: str, now: dt.datetime, lease_seconds: int) -> set[int]:
    """Extend the lease on rows this worker still holds; the ids it still holds (a row whose
    lease ran out may have been taken by another worker, which will send it)."""
    if not outbound_ids:
        return set()
    marks = ", ".join([db.param] * len(outbound_ids))
    with db.atomic():   # the returned rows are read before the write lock is let go
        return {row[0] for row in db.execute_sql(
            f"UPDATE outbound SET lease_until = {db.param} WHERE id IN ({marks}) AND lease_owner = {db.param} "
            "RETURNING id", (utc(now) + dt.timedelta(seconds=lease_seconds), *outbound_ids, lease)).fetchall()}


def release(outbound_ids: list[int]) -> None:
    """Give leased messages back untouched (the worker is stopping or lost its relay)."""
    if outbound_ids:
        Outbound.update(lease_owner=None, lease_until=None, attempts=Outbound.attempts - 1) \
            .where(Outbound.id.in_(outbound_ids)).execute()


def mark_sent(outbound_ids: int | list[int], now: dt.datetime) -> None:
    # Plain SQL: this runs for every message delivered, and building the query through the
    # ORM cost more than the commit itself (bench/bulletin.py).
    ids = [outbound_ids] if isinstance(outbound_ids, int) else list(outbound_ids)
    if ids:
        marks = ", ".join([db.param] * len(ids))
        db.execute_sql(f"UPDATE outbound SET state = 'sent', sent_at = {db.param}, lease_owner = NULL, "
                       f"lease_until = NULL, last_error = NULL WHERE id IN ({marks})", (utc(now), *ids))


def mark_failed(outbound_id: int, error: str) -> None:
    Outbound.update(state="failed", lease_owner=None, lease_until=None,
                    last_error=error).where(Outbound.id == outbound_id).execute()


def mark_skipped(outbound_id: int, why: str) -> None:
    Outbound.update(state="skipped", lease_owner=None, lease_until=None,
                    last_error=why).where(Outbound.id == outbound_id).execute()


def reschedule(outbound_id: int, at: dt.datetime, error: str) -> None:
    Outbound.update(next_attempt_at=utc(at), lease_owner=None, lease_until=None,
                    last_error=error).where(Outbound.id == outbound_id).execute()


def queue_counts() -> dict[str, int]:
    """How many items sit in each state, for `gateway status`."""
    counts: dict[str, int] = {}
    for model, name in ((Inbound, "inbound"), (Outbound, "outbound")):
        for row in model.select(model.state, pw.fn.COUNT(model.id).alias("n")).group_by(model.state).dicts():
            counts[f"{name} {row['state']}"] = row["n"]
    return counts


def case_counts() -> dict[str, int]:
    rows = Case.select(Case.status, pw.fn.COUNT(Case.id).alias("n")).group_by(Case.status).dicts()
    return {row["status"]: row["n"] for row in rows}


def case_mail(case: Case) -> tuple[list[Inbound], list[Outbound]]:
    """Everything that came in and went out on a case, each oldest first."""
    inbound = list(Inbound.select().where(Inbound.case == case).order_by(Inbound.id))
    outbound = list(Outbound.select().where(Outbound.case == case).order_by(Outbound.id))
    return inbound, outbound
