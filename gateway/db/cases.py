"""Cases: references, the Message-IDs that thread into them, their events and their mail."""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Iterator

import peewee as pw

from gateway.db.connection import _one, insert, utc
from gateway.db import audit, models
from gateway.db.connection import as_datetime, plain, plain_type, postgres
from gateway.db.intake import Message
from gateway.db.models import CaseEvent, Inbound, MessageRef, Outbound, db
from gateway.db.outbox import Delivery

# A case: the columns of models.Case. Change it, then db.cases.save(case).
Case = plain_type("Case", models.Case, frozen=False)
Event = plain_type("Event", CaseEvent)
SAVED = ("team", "status", "language", "updated_at", "urgent", "due_date", "clock_from",
         "answered_at")   # what the pipeline changes


def next_reference(prefix: str, year: int) -> str:
    """A new case reference, e.g. SRG-2026-0042. Call inside the case's transaction."""
    rows = db.execute_sql(f"UPDATE reference_counter SET last = last + 1 WHERE year = {db.param} RETURNING last",
                          (year,)).fetchall()   # read to the end, so the statement is finished
    if not rows:   # the year's first case: an upsert, so two daemons starting a year cannot collide
        rows = db.execute_sql(f"INSERT INTO reference_counter (year, last) VALUES ({db.param}, 1) ON CONFLICT (year) "
                              "DO UPDATE SET last = reference_counter.last + 1 RETURNING last", (year,)).fetchall()
    return f"{prefix}-{year}-{rows[0][0]:04d}"


def case_by_id(case_id: int) -> Case | None:
    return plain(models.Case.get_or_none(models.Case.id == case_id), Case)


def reference_of(case_id: int) -> str | None:
    row = _one('SELECT reference FROM "case" WHERE id = ?', case_id)
    return row[0] if row else None


def case_by_reference(reference: str) -> Case | None:
    return plain(models.Case.get_or_none(models.Case.reference == reference.upper()), Case)


def case_by_message_ids(message_ids: Iterable[str]) -> Case | None:
    """The case that owns the most recent of these Message-IDs, if any."""
    ids = [m for m in message_ids if m]
    if not ids:
        return None
    refs = {r.message_id: r for r in MessageRef.select().where(MessageRef.message_id.in_(ids))}
    for message_id in reversed(ids):  # References lists the newest last
        if message_id in refs:
            return plain(models.Case.get_by_id(refs[message_id].case_id), Case)
    return None


def open_case(**values: object) -> Case:
    """Insert a new case (call inside the message's transaction) and return it."""
    values = {"status": "open", "urgent": False} | values
    return Case(id=insert("case", **values), **values)


def save(case: Case) -> None:
    """Write back what the pipeline may change on a case (SAVED); call inside its transaction."""
    assignments = ", ".join(f'"{name}" = {db.param}' for name in SAVED)
    db.execute_sql(f'UPDATE "case" SET {assignments} WHERE id = {db.param}',
                   (*(getattr(case, name) for name in SAVED), case.id))


def claim_notice(key: str, case_id: int | None, now: dt.datetime) -> bool:
    """Record that the notice `key` (a reminder, a breach, a digest) is being sent: True the
    first time only, across restarts and daemons. Call in the transaction that queues it."""
    return bool(db.execute_sql(f"INSERT INTO notice (key, case_id, at) VALUES ({db.param}, {db.param}, {db.param}) "
                               "ON CONFLICT (key) DO NOTHING RETURNING key", (key, case_id, utc(now))).fetchall())


def opened_between(start: dt.datetime, end: dt.datetime, team: str | None = None) -> list[Case]:
    """Cases whose first message arrived in [start, end), oldest first (for stats and reports)."""
    table = models.Case
    query = table.select().where((table.opened_at >= utc(start)) & (table.opened_at < utc(end)))
    if team:
        query = query.where(table.team == team)
    return [plain(row, Case) for row in query.order_by(table.id)]


def notices_among(keys: list[str]) -> set[str]:
    """Which of these notices were sent already (a read: no write lock)."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        marks = ", ".join([db.param] * len(chunk))
        found |= {row[0] for row in db.execute_sql(f"SELECT key FROM notice WHERE key IN ({marks})", chunk).fetchall()}
    return found


def open_cases(team: str | None = None) -> list[Case]:
    """Cases waiting on the police (status open), oldest due first, urgent ones first."""
    query = models.Case.select().where(models.Case.status == "open")
    if team:
        query = query.where(models.Case.team == team)
    return [plain(row, Case) for row in query.order_by(models.Case.urgent.desc(), models.Case.due_date, models.Case.id)]


DEALT_WITH = ("seen", "answered", "closed", "waiting", "urgency_corrected")   # someone saw the case


def urgent_unseen(since: tuple[str, ...] = DEALT_WITH) -> list[tuple[Case, dt.datetime, str]]:
    """Open urgent cases flagged since anyone last dealt with them (#seen, an answer, #urgent
    or #noturgent): (case, its first flag since then, why), the longest waiting first. The
    first flag, not the latest: a resident writing of danger again must not put off the desk
    or hide how long it has waited. `since` + ("escalated",): only flags since the desk was
    last told, too."""
    p = db.param
    kinds = ", ".join(p for _ in since)
    rows = db.execute_sql(
        f'SELECT c.id, u.at, u.detail FROM "case" c JOIN case_event u ON u.case_id = c.id '
        f"WHERE c.status = 'open' AND c.urgent = {p} AND u.id = (SELECT min(e.id) FROM case_event e "
        f"WHERE e.case_id = c.id AND e.kind = 'urgent' AND e.id > (SELECT coalesce(max(s.id), 0) FROM case_event s "
        f"WHERE s.case_id = c.id AND s.kind IN ({kinds}))) ORDER BY u.at, c.id", (True, *since)).fetchall()
    cases = {row.id: plain(row, Case) for row in models.Case.select().where(models.Case.id.in_([r[0] for r in rows]))}
    return [(cases[case_id], as_datetime(at), detail) for case_id, at, detail in rows if case_id in cases]


def lock_for_this_transaction(message_id: str | None, sender: str | None) -> bool:
    """Take, until the transaction ends, the locks on a message's Message-ID and sender, so
    that what is checked (a duplicate? how many cases this hour?) still holds when it is
    written; False when another daemon holds one (it is not waited for: two daemons each
    holding one could wait on each other for ever). PostgreSQL's advisory locks; on SQLite
    the one writer at a time already makes the check and the write one step."""
    if not postgres():
        return True
    for key in (f"message-id:{message_id}" if message_id else "", f"sender:{sender}" if sender else ""):
        if key and not db.execute_sql(f"SELECT pg_try_advisory_xact_lock(hashtextextended({db.param}, 0))",
                                      (key,)).fetchone()[0]:
            return False
    return True


def lock_case_for_this_transaction(case_id: int) -> bool:
    """Take, until the transaction ends, a lock on a case's held-mail notices, so that "was
    the team told within the hour?" still holds when the notice is queued; False when
    another daemon holds it (not waited for, as above)."""
    if not postgres():
        return True
    return bool(db.execute_sql(f"SELECT pg_try_advisory_xact_lock(hashtextextended({db.param}, 0))",
                               (f"case-held:{case_id}",)).fetchone()[0])


def last_event(case: Case, kind: str) -> Event | None:
    """The case's latest event of this kind, if any."""
    row = CaseEvent.select().where((CaseEvent.case == case.id) & (CaseEvent.kind == kind)) \
        .order_by(CaseEvent.id.desc()).first()
    return plain(row, Event)


def last_escalation(case: Case, by_resident: bool) -> Event | None:
    """The latest time the desk was sent this case, or (by_resident) any case of its resident."""
    query = CaseEvent.select().where(CaseEvent.kind == "escalated")
    if by_resident:
        query = query.join(models.Case).where(models.Case.resident_address == case.resident_address)
    else:
        query = query.where(CaseEvent.case == case.id)
    return plain(query.order_by(CaseEvent.id.desc()).first(), Event)


def dealt_with_since(event: Event) -> bool:
    """Whether anyone dealt with the event's case (DEALT_WITH) after it."""
    kinds = ", ".join("?" for _ in DEALT_WITH)
    return _one(f"SELECT count(*) FROM case_event WHERE case_id = ? AND id > ? AND kind IN ({kinds})",
                event.case_id, event.id, *DEALT_WITH)[0] > 0


def events_after(case: Case, kind: str, event_id: int) -> int:
    """How many events of this kind the case has had since the event `event_id`."""
    return _one("SELECT count(*) FROM case_event WHERE case_id = ? AND kind = ? AND id > ?",
                case.id, kind, event_id)[0]


def message_id_known(message_id: str | None) -> bool:
    return bool(message_id) and _one("SELECT 1 FROM message_ref WHERE message_id = ? LIMIT 1", message_id) is not None


def remember_message_id(message_id: str | None, case: Case, direction: str) -> None:
    if message_id:  # the first case to claim a Message-ID keeps it
        db.execute_sql(f"INSERT INTO message_ref (message_id, case_id, direction) VALUES ({db.param}, {db.param}, "
                       f"{db.param}) ON CONFLICT (message_id) DO NOTHING", (message_id, case.id, direction))


def add_event(case: Case, kind: str, now: dt.datetime, detail: str = "",
              inbound_id: int | None = None, actor: str = "gateway") -> None:
    """Record what happened to a case, and add it to the audit trail. `actor`: an officer's
    address, "<OS user> (gateway ...)" for the CLI, or "gateway". Call inside its transaction."""
    db.execute_sql("INSERT INTO case_event (case_id, at, kind, inbound_id, detail) VALUES ({p}, {p}, {p}, {p}, {p})"
                   .format(p=db.param), (case.id, utc(now), kind, inbound_id, detail))
    audit.case_event(kind, actor, now, case.reference, case.resident_address, detail)


def cases_opened_since(resident_address: str, since: dt.datetime, limit: int) -> int:
    """How many cases a resident opened after `since`, counted up to `limit` at most (the
    count stops there: a flood of ten thousand messages must not make each one slower)."""
    return _one('SELECT count(*) FROM (SELECT 1 FROM "case" WHERE resident_address = ? AND opened_at > ? LIMIT ?) AS t',
                resident_address, utc(since), limit)[0]


def newest_case_of(resident_address: str) -> Case | None:
    row = _one('SELECT max(id) FROM "case" WHERE resident_address = ?', resident_address)
    return plain(models.Case.get_by_id(row[0]), Case) if row and row[0] is not None else None


def event_since(case: Case, kind: str, since: dt.datetime) -> bool:
    return CaseEvent.select().where((CaseEvent.case == case.id) & (CaseEvent.kind == kind)
                                    & (CaseEvent.at > utc(since))).exists()


def team_message_ids(case: Case) -> list[str]:
    """Message-IDs of what the team already has on this case, oldest first."""
    rows = db.execute_sql(f"SELECT message_id FROM outbound WHERE case_id = {db.param} AND substr(purpose, 1, 5) = 'team_' "
                          "ORDER BY id", (case.id,)).fetchall()
    return [row[0] for row in rows]


def resident_thread_ids(case: Case) -> list[str]:
    """Message-IDs of the resident's side of the conversation (theirs and ours to them), oldest
    first, for In-Reply-To and References of the next message to the resident."""
    theirs = (Inbound.select(Inbound.message_id, Inbound.received_at.alias("at"))
              .where((Inbound.case == case.id) & Inbound.kind.in_(("resident_new", "resident_follow_up"))
                     & Inbound.message_id.is_null(False)))
    ours = (Outbound.select(Outbound.message_id, Outbound.created_at.alias("at"))
            .where((Outbound.case == case.id) & (Outbound.rcpt_to == case.resident_address)))
    rows = sorted([(r.at, r.message_id) for r in theirs] + [(r.at, r.message_id) for r in ours],
                  key=lambda row: str(row[0]))
    return [message_id for _, message_id in rows]


def message_count(case: Case) -> int:
    return _one("SELECT count(*) FROM message_ref WHERE case_id = ?", case.id)[0]


def case_events(case: Case) -> list[Event]:
    return [plain(row, Event) for row in CaseEvent.select().where(CaseEvent.case == case.id).order_by(CaseEvent.id)]


def events_of_kind(kind: str) -> list[tuple[Case, Event]]:
    """Every event of one kind, on every case, oldest first."""
    rows = CaseEvent.select().where(CaseEvent.kind == kind).order_by(CaseEvent.id)
    events = [plain(row, Event) for row in rows]
    cases = {row.id: plain(row, Case) for row in models.Case.select().where(
        models.Case.id.in_(list({e.case_id for e in events})))} if events else {}
    return [(cases[e.case_id], e) for e in events if e.case_id in cases]


def first_inbound_raw(case: Case) -> bytes | None:
    row = Inbound.select(Inbound.raw).where(Inbound.case == case.id).order_by(Inbound.id).first()
    return bytes(row.raw) if row else None


def cases(status: str | None = None, team: str | None = None) -> Iterator[Case]:
    query = models.Case.select().order_by(models.Case.id)
    if status:
        query = query.where(models.Case.status == status)
    if team:
        query = query.where(models.Case.team == team)
    return (plain(row, Case) for row in query)


def case_counts() -> dict[str, int]:
    rows = (models.Case.select(models.Case.status, pw.fn.COUNT(models.Case.id).alias("n"))
            .group_by(models.Case.status).dicts())
    return {row["status"]: row["n"] for row in rows}


def answered_message(case: Case, message_ids: list[str]) -> Message | None:
    """The message on the case whose copy, one we sent with one of `message_ids` (an
    officer's In-Reply-To, then References newest first), an officer answered; None if none."""
    rows = {row.message_id: row.inbound_id for row in Outbound.select(Outbound.message_id, Outbound.inbound)
            .where((Outbound.case == case.id) & Outbound.message_id.in_(message_ids) & Outbound.inbound.is_null(False))}
    found = next((rows[m] for m in message_ids if m in rows), None)
    return plain(Inbound.get_or_none(Inbound.id == found), Message) if found else None


def case_mail(case: Case) -> tuple[list[Message], list[Delivery]]:
    """Everything that came in and went out on a case, each oldest first."""
    inbound = [plain(row, Message) for row in Inbound.select().where(Inbound.case == case.id).order_by(Inbound.id)]
    outbound = [plain(row, Delivery) for row in Outbound.select().where(Outbound.case == case.id).order_by(Outbound.id)]
    return inbound, outbound
