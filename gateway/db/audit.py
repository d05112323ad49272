"""The audit trail: who did what to a case or a resident's data, and when.

Append-only and tamper-evident. Each row carries an HMAC-SHA256, under the audit key, of its
own fields and of the row before it (`prev`), so editing, removing or inserting a row
anywhere breaks the chain that `verify()` walks; triggers refuse UPDATE and DELETE outright.
The audit key lives in the secret file (config/keyring.py), never in the database, and is
given to db.connect(): whoever can write the database cannot recompute the chain. Rows hold
no resident's address, subject or words: a resident is named by a pseudonym (an HMAC of
their address under the same key, `pseudonym()`), so erasing a resident's data leaves the
trail whole and a guessed address cannot be confirmed without the key; the words of a note
live only with the case (the row keeps their hash, `detail_sha256`).

Rows written before keyed hashes (migration 15) are marked scheme 'sha256' and are checked
the old way, with plain SHA-256, and only as the start of the chain: every row after the
first keyed one must be keyed, and none may come after the last row there was when the
audit key was first bound (`claim_key`, at init or run). Their pseudonyms ("sha256:...")
are still found by `records(resident=...)`.

Ids follow one another with no gap, so a row removed and the chain recomputed past it still
shows; the last row's id and hash are also kept outside the database (an anchor,
gateway/privacy/anchor.py), so a trail cut short, or recomputed whole, shows against them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Collection, Iterator

from gateway.db.connection import as_datetime, defer, keys, postgres, utc
from gateway.db.models import db

GENESIS = "0" * 64
KEYED, LEGACY = "hmac-sha256", "sha256"   # the audit.scheme of a row
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
    scheme: str = KEYED

    def as_json(self) -> dict:
        return {"id": self.id, "at": self.at.isoformat(timespec="seconds") + "Z", "actor": self.actor,
                "action": self.action, "case": self.case_ref, "resident": self.resident,
                "summary": self.summary, "detail_sha256": self.detail_sha256, "prev": self.prev, "hash": self.hash}


def _key() -> bytes:
    if not keys.audit:
        raise RuntimeError("no audit key: open the database with db.connect(url, audit_key=settings.audit_key)")
    return keys.audit


def pseudonym(address: str) -> str:
    """How the trail (and a suppression kept after erasure) names a resident: an HMAC of the
    address, lower-cased, under the audit key. The same address always gives the same name,
    so `gateway audit` and an export find a resident's records; the address cannot be read
    back from it, nor a guessed one confirmed without the key."""
    mac = hmac.new(_key(), b"resident:" + address.strip().lower().encode(), hashlib.sha256)
    return "hmac:" + mac.hexdigest()


def pseudonyms(address: str) -> tuple[str, str]:
    """The names a resident may have in the database: keyed, and as written before migration 15."""
    legacy = "sha256:" + hashlib.sha256(b"surgery-gateway:" + address.strip().lower().encode()).hexdigest()
    return pseudonym(address), legacy


def without_addresses(text: str) -> str:
    return ADDRESS.sub("<address>", text)


def _digest(prev: str, at: dt.datetime, actor: str, action: str, case_ref: str | None, resident: str | None,
            summary: str, detail_sha256: str, scheme: str = KEYED) -> str:
    fields = [prev, utc(at).isoformat(timespec="microseconds"), actor, action, case_ref or "", resident or "",
              summary, detail_sha256]
    data = json.dumps(fields, ensure_ascii=False).encode()
    if scheme == LEGACY:   # rows written before migration 15
        return hashlib.sha256(data).hexdigest()
    return hmac.new(_key(), data, hashlib.sha256).hexdigest()


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
        rows.append((last, at, actor, action, case_ref, name, summary, detail_sha, prev, digest, KEYED))
        prev = digest
    marks = "(" + ", ".join([db.param] * 11) + ")"
    for start in range(0, len(rows), 100):
        chunk = rows[start:start + 100]
        db.execute_sql("INSERT INTO audit (id, at, actor, action, case_ref, resident, summary, detail_sha256, prev, "
                       f"hash, scheme) VALUES {', '.join([marks] * len(chunk))}", [v for r in chunk for v in r])


def case_event(kind: str, actor: str, now: dt.datetime, case_ref: str, resident: str, detail: str) -> None:
    """The record of a case event (db.cases.add_event): the free words of a note or reason
    stay with the case, and addresses are left out of the summary."""
    summary = detail.split(": ", 1)[0] if kind in FREE_TEXT else detail
    # the line already says "by <actor>": a detail that says it too would read it twice
    summary = summary.replace(f" by {actor}", "").removeprefix(f"by {actor}").lstrip(":; ")
    append(ACTIONS.get(kind, kind), actor, now, case_ref, resident, without_addresses(summary)[:300], detail)


def records(case_ref: str | None = None, since: dt.datetime | None = None,
            resident: str | None = None) -> Iterator[Record]:
    """The trail, oldest first, optionally only for one case, one resident (an address), or after a moment."""
    where, params = [], []
    if case_ref:
        where.append(f"case_ref = {db.param}")
        params.append(case_ref.upper())
    if resident:
        where.append(f"resident IN ({db.param}, {db.param})")
        params.extend(pseudonyms(resident))
    if since:
        where.append(f"at >= {db.param}")
        params.append(utc(since))
    sql = ("SELECT id, at, actor, action, case_ref, resident, summary, detail_sha256, prev, hash, scheme FROM audit"
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
    legacy: int = 0   # rows from before migration 15, checked with plain SHA-256


def head() -> tuple[int, str] | None:
    """The last record's id and hash (None: the trail is empty): what an anchor keeps."""
    row = db.execute_sql("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else None


def verify(asked: Collection[int] = ()) -> Verdict:
    """Walk the chain from the first record: each must hash to its `hash`, name the one
    before as `prev`, and have the id after it (the first is record 1). Problems name the
    records that fail; `at_ids` holds the hashes of the records whose ids were `asked`."""
    prev, count, last, problems, found = GENESIS, 0, 0, key_problems(), {}
    wanted = set(asked)
    legacy = _Legacy()
    for record in records():
        count += 1
        if record.id != last + 1:
            problems.append(_missing(last + 1, record.id - 1))
        if record.prev != prev:
            problems.append(f"record {record.id}: does not follow the record before it "
                            "(a record was removed, inserted or changed)")
        problems.extend(legacy.check(record))
        expected = _digest(record.prev, record.at, record.actor, record.action, record.case_ref, record.resident,
                           record.summary, record.detail_sha256, record.scheme)
        if not hmac.compare_digest(expected, record.hash):
            problems.append(f"record {record.id}: its contents do not match its hash (it was edited)")
        if record.id in wanted:
            found[record.id] = record.hash
        prev, last = record.hash, record.id
    return Verdict(count, prev, problems, last, found, legacy.count)


def _missing(first: int, final: int) -> str:
    """Ids first..final have no record: they were deleted (a writer never skips one)."""
    return f"record {first} is missing" if first == final else f"records {first}-{final} are missing"


class _Legacy:
    """Rows hashed the old way (plain SHA-256) are accepted only as the start of the chain, and
    only up to the last row there was when keyed hashes began: later ones are forgeries."""

    def __init__(self):
        row = db.execute_sql("SELECT legacy_until FROM audit_key WHERE id = 1").fetchone()
        self.until = row[0] if row else None
        self.count, self.keyed_seen = 0, False

    def check(self, record: Record) -> list[str]:
        if record.scheme != LEGACY:
            self.keyed_seen = True
            return []
        self.count += 1
        if self.keyed_seen or (self.until is not None and record.id > self.until):
            return [f"record {record.id}: hashed without the audit key, but written after keyed hashes began"]
        return []


def claim_key(now: dt.datetime) -> bool:
    """Remember which audit key this database's trail is written with (a fingerprint, from
    which the key cannot be found), and which rows were written before it (unkeyed); False
    when it was written with another key: a daemon with a secret file of its own would
    write a trail no key verifies. Called by init and run, after migrating."""
    db.execute_sql(f"INSERT INTO audit_key (id, fingerprint, legacy_until, at) SELECT 1, {db.param}, "
                   f"COALESCE(MAX(id), 0), {db.param} FROM audit WHERE true ON CONFLICT (id) DO NOTHING", (_fingerprint(), utc(now)))
    return not key_problems()


def written() -> bool:
    """Whether this database already holds an audit trail or a bound audit key: data keyed by
    a secret file, which a new secret file cannot read (it must be restored, not made again)."""
    if not db.table_exists("audit_key"):
        return False
    return db.execute_sql("SELECT 1 FROM audit_key UNION ALL SELECT 1 FROM audit").fetchone() is not None


def key_problems() -> list[str]:
    """Why the bound audit key is not this trail's (none when it is, or none is known yet)."""
    row = db.execute_sql("SELECT fingerprint FROM audit_key WHERE id = 1").fetchone()
    if row and not hmac.compare_digest(row[0], _fingerprint()):
        return ["the audit key in the secret file is not the one this trail was written with: every daemon "
                "and command needs the same secret file ([gateway] secret_file)"]
    return []


def _fingerprint() -> str:
    return hmac.new(_key(), b"surgery-gateway audit key", hashlib.sha256).hexdigest()[:32]
