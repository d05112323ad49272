"""The audit trail: who did what to a case or a resident's data, and when.

Append-only and tamper-evident. Each row carries the SHA-256 of its own fields and of the
row before it (`prev`), so editing, removing or inserting a row anywhere breaks the chain
that `verify()` walks; triggers refuse UPDATE and DELETE outright. Rows hold no resident's
address, subject or words: a resident is named by a pseudonym (a hash of their address,
`pseudonym()`), so erasing a resident's data leaves the trail whole, and the words of a
note live only with the case (the row keeps their hash, `detail_sha256`).

Ids follow one another with no gap, so a row removed and the chain recomputed past it still
shows; the last row's id and hash are also kept outside the database (an anchor,
gateway/privacy/anchor.py), so a trail cut short, or recomputed whole, shows against them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Collection, Iterator

from gateway.db.connection import as_datetime, defer, postgres, utc
from gateway.db.models import db

GENESIS = "0" * 64
ADDRESS = re.compile(r"[^\s<>:;,()\"']+@[^\s<>:;,()\"']+")
# Case events whose detail goes on after "who: " with words somebody wrote (a note, a reason).
FREE_TEXT = frozenset({"note", "assigned", "closed", "command_error"})
# A case event's kind, as the trail names the action.
ACTIONS = {"note": "noted", "told_team": "forwarded", "answered": "answered", "waiting": "answered",
           "follow_up": "resident_wrote"}


@dataclass(frozen=True)
class Record:
    id: int
    at: dt.datetime
    actor: str
    action: str
    case_ref: str | None
    resident: str | None
    summary: str
    detail_sha256: str
    prev: str
    hash: str

    def as_json(self) -> dict:
        return {"id": self.id, "at": self.at.isoformat(timespec="seconds") + "Z", "actor": self.actor,
                "action": self.action, "case": self.case_ref, "resident": self.resident,
                "summary": self.summary, "detail_sha256": self.detail_sha256, "prev": self.prev, "hash": self.hash}


def pseudonym(address: str) -> str:
    """How the trail (and a suppression kept after erasure) names a resident: a hash of the
    address, lower-cased. The same address always gives the same name, so `gateway audit`
    and an export find a resident's records; the address cannot be read back from it."""
    return "sha256:" + hashlib.sha256(b"surgery-gateway:" + address.strip().lower().encode()).hexdigest()


def without_addresses(text: str) -> str:
    return ADDRESS.sub("<address>", text)


def _digest(prev: str, at: dt.datetime, actor: str, action: str, case_ref: str | None, resident: str | None,
            summary: str, detail_sha256: str) -> str:
    fields = [prev, utc(at).isoformat(timespec="microseconds"), actor, action, case_ref or "", resident or "",
              summary, detail_sha256]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


def append(action: str, actor: str, now: dt.datetime, case_ref: str | None = None, resident: str | None = None,
           summary: str = "", detail: str = "") -> None:
    """Add a record at the end of the chain. `resident` is an address (stored as its
    pseudonym). Inside a transaction the record is written as the transaction commits (and
    never, if it rolls back, or if the savepoint it was made in does): the chain is locked
    only for that moment, so daemons sharing a database do not queue on it for long."""
    detail_sha = hashlib.sha256(detail.encode()).hexdigest() if detail else ""
    record = (utc(now), actor, action, case_ref, pseudonym(resident) if resident else None, summary, detail_sha)
    if db.in_transaction():
        defer(_write, record)
    else:
        with db.atomic():
            defer(_write, record)


def _write(records: list) -> None:
    """Chain and insert the records held back by a transaction about to commit."""
    if postgres():   # one appender at a time across daemons, until this transaction ends
        db.execute_sql("SELECT pg_advisory_xact_lock(hashtextextended('gateway:audit', 0))")
    # Ids are given here, one after the last, not by a sequence: a PostgreSQL sequence skips
    # the ids of rolled-back inserts, and a gap in the ids must mean records were removed.
    row = db.execute_sql("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    (last, prev), rows = (row if row else (0, GENESIS)), []
    for at, actor, action, case_ref, name, summary, detail_sha in records:
        digest = _digest(prev, at, actor, action, case_ref, name, summary, detail_sha)
        last += 1
        rows.append((last, at, actor, action, case_ref, name, summary, detail_sha, prev, digest))
        prev = digest
    marks = "(" + ", ".join([db.param] * 10) + ")"
    for start in range(0, len(rows), 100):
        chunk = rows[start:start + 100]
        db.execute_sql("INSERT INTO audit (id, at, actor, action, case_ref, resident, summary, detail_sha256, prev, "
                       f"hash) VALUES {', '.join([marks] * len(chunk))}", [v for r in chunk for v in r])


def case_event(kind: str, actor: str, now: dt.datetime, case_ref: str, resident: str, detail: str) -> None:
    """The record of a case event (db.cases.add_event): the free words of a note or reason
    stay with the case, and addresses are left out of the summary."""
    summary = detail.split(": ", 1)[0] if kind in FREE_TEXT else detail
    append(ACTIONS.get(kind, kind), actor, now, case_ref, resident, without_addresses(summary)[:300], detail)


def records(case_ref: str | None = None, since: dt.datetime | None = None,
            resident: str | None = None) -> Iterator[Record]:
    """The trail, oldest first, optionally only for one case, one resident (an address), or after a moment."""
    where, params = [], []
    if case_ref:
        where.append(f"case_ref = {db.param}")
        params.append(case_ref.upper())
    if resident:
        where.append(f"resident = {db.param}")
        params.append(pseudonym(resident))
    if since:
        where.append(f"at >= {db.param}")
        params.append(utc(since))
    sql = ("SELECT id, at, actor, action, case_ref, resident, summary, detail_sha256, prev, hash FROM audit"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id")
    for row in db.execute_sql(sql, params).fetchall():
        yield Record(row[0], as_datetime(row[1]), *row[2:])


@dataclass(frozen=True)
class Verdict:
    records: int
    head: str
    problems: list[str]
    last: int = 0                                          # the last record's id (0: none)
    at_ids: dict[int, str] = field(default_factory=dict)   # the hash of each record asked about


def head() -> tuple[int, str] | None:
    """The last record's id and hash (None: the trail is empty): what an anchor keeps."""
    row = db.execute_sql("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else None


def verify(asked: Collection[int] = ()) -> Verdict:
    """Walk the chain from the first record: each must hash to its `hash`, name the one
    before as `prev`, and have the id after it (the first is record 1). Problems name the
    records that fail; `at_ids` holds the hashes of the records whose ids were `asked`."""
    prev, count, last, problems, found = GENESIS, 0, 0, [], {}
    wanted = set(asked)
    for record in records():
        count += 1
        if record.id != last + 1:
            problems.append(_missing(last + 1, record.id - 1))
        if record.prev != prev:
            problems.append(f"record {record.id}: does not follow the record before it "
                            "(a record was removed, inserted or changed)")
        expected = _digest(record.prev, record.at, record.actor, record.action, record.case_ref, record.resident,
                           record.summary, record.detail_sha256)
        if expected != record.hash:
            problems.append(f"record {record.id}: its contents do not match its hash (it was edited)")
        if record.id in wanted:
            found[record.id] = record.hash
        prev, last = record.hash, record.id
    return Verdict(count, prev, problems, last, found)


def _missing(first: int, final: int) -> str:
    """Ids first..final have no record: they were deleted (a writer never skips one)."""
    return f"record {first} is missing" if first == final else f"records {first}-{final} are missing"
