"""A force's data-protection duties on the data: retention (purge), subject access (what
is held about one resident) and erasure. Each action leaves its record in the audit trail.

Residents are matched by address, lower-cased. A message is a resident's when they sent
it (its envelope sender, or the From the pipeline read, kept in `sender`); mail is theirs
when it was sent to them (its recipient).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import peewee as pw

from gateway.db import audit, models
from gateway.db.cases import Case
from gateway.db.connection import as_datetime, plain, postgres, utc
from gateway.db.intake import Message
from gateway.db.models import Inbound, Outbound, db
from gateway.db.outbox import Delivery

ERASED = "erased@erased.invalid"   # what an erased address becomes where it cannot be removed


@dataclass(frozen=True)
class Policy:
    """How long each kind of data is kept; 0 keeps it for ever. See [retention]."""

    closed_case_months: int
    quarantine_days: int
    bounce_days: int
    ended_subscription_days: int


@dataclass
class Purge:
    cases: list[str] = field(default_factory=list)   # references
    case_messages: int = 0          # mail in and out on those cases
    set_aside: int = 0              # quarantined, parked and other mail never on a case
    bounces: int = 0                # bounces, auto-replies and bounce scores
    deliveries: int = 0             # outbox rows not on a case (bulletin copies, confirmations)
    subscriptions: int = 0          # ended subscriptions
    subscribers: int = 0            # subscribers left with none

    def total(self) -> int:
        return (len(self.cases) + self.case_messages + self.set_aside + self.bounces + self.deliveries
                + self.subscriptions + self.subscribers)


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day and time `months` calendar months earlier (the 31st becomes the month's last day)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    month += 1
    days = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, days))


def _ids(sql: str, *params) -> list[int]:
    return [row[0] for row in db.execute_sql(sql.replace("?", db.param), params).fetchall()]


# What is left of the newest row of a table when it must go: SQLite hands out the highest id
# of a deleted row again, so one message's log lines could later seem another's.
BLANK = {"inbound": "state = 'purged', kind = 'purged', raw = {p}, size = 0, mail_from = '', rcpt_tos = '', "
                    "message_id = NULL, sha256 = '', error = NULL, stage = NULL, peer = NULL, helo = NULL, "
                    "case_id = NULL",
         "outbound": "state = 'purged', raw = {p}, mail_from = '', rcpt_to = '', message_id = '', last_error = NULL, "
                     "case_id = NULL, inbound_id = NULL"}


def _delete(table: str, ids: list[int]) -> int:
    if table in BLANK and ids:
        newest = db.execute_sql(f"SELECT max(id) FROM {table}").fetchone()[0]
        if newest in ids:
            ids = [i for i in ids if i != newest]
            db.execute_sql(f"UPDATE {table} SET {BLANK[table].format(p=db.param)} WHERE id = {db.param}",
                           (b"", newest))
            return 1 + _delete(table, ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        db.execute_sql(f'DELETE FROM "{table}" WHERE id IN ({", ".join([db.param] * len(chunk))})', chunk)
    return len(ids)


def _delete_cases(case_ids: list[int]) -> int:
    """Delete cases with everything on them; how many messages in and out went with them."""
    messages = 0
    for start in range(0, len(case_ids), 500):
        chunk = case_ids[start:start + 500]
        marks = ", ".join([db.param] * len(chunk))
        for table in ("inbound", "outbound"):
            messages += _delete(table, _ids(f"SELECT id FROM {table} WHERE case_id IN ({marks})", *chunk))
        for table in ("case_event", "message_ref", "notice"):
            db.execute_sql(f"DELETE FROM {table} WHERE case_id IN ({marks})", chunk)
        db.execute_sql(f'DELETE FROM "case" WHERE id IN ({marks})', chunk)
    return messages


def purge(policy: Policy, now: dt.datetime, actor: str, dry_run: bool = False) -> Purge:
    """Delete what the policy no longer keeps, in one transaction, and record it in the audit
    trail; with `dry_run`, only count it (nothing is written)."""
    now, result = utc(now), Purge()
    with db.atomic() as transaction:
        if policy.closed_case_months:
            cutoff = months_before(now, policy.closed_case_months)
            rows = db.execute_sql(f'SELECT id, reference, resident_address FROM "case" WHERE status = \'closed\' '
                                  f"AND updated_at < {db.param} ORDER BY id", (cutoff,)).fetchall()
            result.cases = [reference for _, reference, _ in rows]
            result.case_messages = _delete_cases([case_id for case_id, _, _ in rows])
            for _, reference, resident in rows:
                audit.append("purged", actor, now, reference, resident, "closed case past its retention")
        if policy.quarantine_days:
            cutoff = now - dt.timedelta(days=policy.quarantine_days)
            result.set_aside = _delete("inbound", _ids(
                "SELECT id FROM inbound WHERE case_id IS NULL AND state NOT IN ('queued', 'purged') AND kind NOT IN ('bounce', "
                "'auto_reply') AND received_at < ?", cutoff))
        if policy.bounce_days:
            cutoff = now - dt.timedelta(days=policy.bounce_days)
            result.bounces = _delete("inbound", _ids(
                "SELECT id FROM inbound WHERE state <> 'queued' AND kind IN ('bounce', 'auto_reply') AND received_at < ?",
                cutoff))
            result.bounces += db.execute_sql(f"SELECT count(*) FROM bounce_score WHERE last_at < {db.param}",
                                             (cutoff,)).fetchone()[0]
            db.execute_sql(f"DELETE FROM bounce_score WHERE last_at < {db.param}", (cutoff,))
            result.deliveries = _delete("outbound", _ids(
                "SELECT id FROM outbound WHERE case_id IS NULL AND state IN ('sent', 'failed') "
                "AND coalesce(sent_at, created_at) < ?", cutoff))
        if policy.ended_subscription_days:
            cutoff = now - dt.timedelta(days=policy.ended_subscription_days)
            rows = db.execute_sql(f"SELECT s.id, p.address FROM subscription s JOIN subscriber p ON p.id = "
                                  f"s.subscriber_id WHERE s.state = 'ended' AND s.ended_at < {db.param}",
                                  (cutoff,)).fetchall()
            result.subscriptions = _delete("subscription", [row[0] for row in rows])
            for address in {row[1] for row in rows}:   # they asked to hear no more: never brought back by a list
                _keep_only_a_hash(address, now, "unsubscribed")
            lonely = _ids("SELECT id FROM subscriber WHERE NOT EXISTS (SELECT 1 FROM subscription WHERE "
                          "subscription.subscriber_id = subscriber.id)")
            result.subscribers = _delete("subscriber", lonely)
        if result.total() and not dry_run:
            audit.append("purged", actor, now, summary=(
                f"retention: {len(result.cases)} closed case(s) with {result.case_messages} message(s), "
                f"{result.set_aside} set-aside message(s), {result.bounces} bounce record(s), "
                f"{result.deliveries} delivery row(s), {result.subscriptions} ended subscription(s), "
                f"{result.subscribers} subscriber(s)"))
        if dry_run:
            transaction.rollback()
    return result


def _keep_only_a_hash(address: str, now: dt.datetime, reason: str) -> None:
    """Keep this address's suppression (or make one, `reason`) as its hash only."""
    address = address.lower()
    row = db.execute_sql(f"SELECT reason FROM suppression WHERE address = {db.param}", (address,)).fetchone()
    db.execute_sql(f"DELETE FROM suppression WHERE address = {db.param}", (address,))
    db.execute_sql(f"INSERT INTO suppression (address, reason, at) VALUES ({db.param}, {db.param}, {db.param}) "
                   "ON CONFLICT (address) DO NOTHING", (audit.pseudonym(address), row[0] if row else reason, now))


# -- subject access ---------------------------------------------------------------------------

@dataclass
class Held:
    """Everything held about one resident, as plain values."""

    address: str
    cases: list[tuple[Case, list[Message], list[Delivery]]] = field(default_factory=list)
    other_messages: list[Message] = field(default_factory=list)   # theirs, never on a case
    other_mail: list[Delivery] = field(default_factory=list)      # to them, on no case of theirs
    subscriber: dict | None = None
    subscriptions: list[dict] = field(default_factory=list)
    suppression: list[dict] = field(default_factory=list)
    audit: list[audit.Record] = field(default_factory=list)


def messages_mentioning(address: str) -> list[Message]:
    """Inbound mail that may be a resident's: its envelope sender is theirs, it is on one of
    their cases, or its bytes hold their address in any case (the From header). The caller
    reads each to tell."""
    ids = _ids('SELECT i.id FROM inbound i LEFT JOIN "case" c ON c.id = i.case_id WHERE lower(i.mail_from) = ? '
               f"OR c.resident_address = ? OR {_raw_holds('i.raw')} ORDER BY i.id", address, address, address)
    return [plain(row, Message) for row in Inbound.select().where(Inbound.id.in_(ids)).order_by(Inbound.id)] \
        if ids else []


def _raw_holds(column: str) -> str:
    """SQL that is true when the message bytes in `column` hold the (lower-case) text given as
    its one parameter, in any case. bytea has no lower(): its escape form keeps ASCII as it is."""
    if postgres():
        return f"position(? in lower(encode({column}, 'escape'))) > 0"
    return f"instr(lower(CAST({column} AS TEXT)), ?) > 0"


def held_about(address: str, is_theirs) -> Held:
    """What is held about `address`. `is_theirs(message)` says whether an inbound message
    was sent by them (the caller parses it); mail to them is matched by recipient."""
    address = address.lower()
    held = Held(address)
    theirs = [m for m in messages_mentioning(address) if is_theirs(m)]
    to_them = [plain(row, Delivery) for row in Outbound.select().where(pw.fn.LOWER(Outbound.rcpt_to) == address)
               .order_by(Outbound.id)]
    case_ids = sorted({m.case_id for m in theirs if m.case_id} | {d.case_id for d in to_them if d.case_id}
                      | {row.id for row in models.Case.select(models.Case.id)
                         .where(models.Case.resident_address == address)})
    for case_id in case_ids:
        case = plain(models.Case.get_by_id(case_id), Case)
        held.cases.append((case, [m for m in theirs if m.case_id == case_id],
                           [d for d in to_them if d.case_id == case_id]))
    held.other_messages = [m for m in theirs if not m.case_id]
    held.other_mail = [d for d in to_them if not d.case_id]
    person = models.Subscriber.get_or_none(models.Subscriber.address == address)
    if person is not None:
        held.subscriber = {"address": person.address, "name": person.name, "language": person.language,
                           "created_at": as_datetime(person.created_at)}
        held.subscriptions = [{"area": s.area, "state": s.state, "created_at": s.created_at,
                               "confirmed_at": s.confirmed_at, "ended_at": s.ended_at}
                              for s in models.Subscription.select().where(models.Subscription.subscriber == person.id)
                              .order_by(models.Subscription.id)]
    held.suppression = [{"reason": s.reason, "at": s.at, "kept_as": "address" if s.address == address else "hash"}
                        for s in models.Suppression.select().where(
                            models.Suppression.address.in_([address, *audit.pseudonyms(address)]))]
    held.audit = list(audit.records(resident=address))
    return held


@dataclass
class Erased:
    """What `erase` removed."""

    cases: int = 0
    messages: int = 0        # their messages
    mail: int = 0            # mail to them
    others: int = 0          # the rest on their cases or naming one: officers', the teams' copies, held mail
    subscriptions: int = 0
    references: list[str] = field(default_factory=list)   # their cases', to find elsewhere (the spool)
    spool_files: int = 0     # counted by gateway.privacy.erasure, which owns the files


def erase(address: str, is_theirs, now: dt.datetime, actor: str) -> Erased:
    """Remove a resident's data: their cases with every message on them, whoever wrote it
    (an officer's answer, a team's copy, mail held or quarantined there), and any other
    message naming one of those cases (held mail that never joined it, a digest); their
    messages and the mail sent to them elsewhere; their subscriptions. Their address is then
    replaced wherever else it was written (another resident's message that named them). A
    suppression stays, as the address's hash only, so they are still never written to
    against their wishes. One transaction; an "erased" record in the audit trail says who."""
    address, now = address.lower(), utc(now)
    held = held_about(address, is_theirs)
    owned = [case for case, _, _ in held.cases if case.resident_address == address]
    done = Erased(cases=len(owned), subscriptions=len(held.subscriptions), references=[c.reference for c in owned])
    with db.atomic():
        for case in owned:
            audit.append("erased", actor, now, case.reference, address, "case erased at the resident's request")
        done.messages = _delete("inbound", [m.id for _, mine, _ in held.cases for m in mine]
                                + [m.id for m in held.other_messages])
        done.mail = _delete("outbound", [d.id for _, _, mail in held.cases for d in mail]
                            + [d.id for d in held.other_mail])
        done.others = _delete_cases([case.id for case in owned]) + _delete_naming(done.references)
        if held.subscriber is not None or held.suppression:
            wished = any(s["state"] == "ended" for s in held.subscriptions)
            if held.suppression or wished:
                _keep_only_a_hash(address, now, "unsubscribed")
            db.execute_sql(f"DELETE FROM subscriber WHERE address = {db.param}", (address,))
        db.execute_sql(f"DELETE FROM bounce_score WHERE address = {db.param}", (address,))
        _replace_everywhere(address)
        audit.append("erased", actor, now, resident=address, summary=(
            f"resident's data erased: {done.cases} case(s) (with {done.others} message(s) others wrote on or "
            f"about them), {done.messages} message(s) from them, {done.mail} message(s) to them, "
            f"{done.subscriptions} subscription(s)"))
    _reclaim()
    return done


def _delete_naming(references: list[str]) -> int:
    """Delete the messages on no case that name one of these cases (its reference, or the
    reply address made from it): held or quarantined mail about it, a digest listing it."""
    ids: dict[str, list[int]] = {"inbound": [], "outbound": []}
    for reference in references:
        named = re.compile(rb"(?<![A-Za-z0-9])" + re.escape(reference.encode()) + rb"(?![0-9])", re.IGNORECASE)
        for table in ids:
            for row_id in _ids(f"SELECT id FROM {table} WHERE case_id IS NULL AND {_raw_holds('raw')}",
                               reference.lower()):
                raw = db.execute_sql(f"SELECT raw FROM {table} WHERE id = {db.param}", (row_id,)).fetchone()[0]
                if named.search(bytes(raw)):
                    ids[table].append(row_id)
    return sum(_delete(table, sorted(set(found))) for table, found in ids.items())


def _replace_everywhere(address: str) -> None:
    """Where the address is still written (another resident's message that named them, a
    delivery error, an event), put ERASED in its place, whatever its case."""
    pattern = re.compile(re.escape(address), re.IGNORECASE)
    for table, columns in (("inbound", ("mail_from", "rcpt_tos", "error")),
                           ("outbound", ("mail_from", "rcpt_to", "last_error")), ("case_event", ("detail",))):
        for column in columns:
            for row_id, text in db.execute_sql(f"SELECT id, {column} FROM {table} WHERE lower({column}) LIKE "
                                               f"{db.param}", (f"%{address}%",)).fetchall():
                db.execute_sql(f"UPDATE {table} SET {column} = {db.param} WHERE id = {db.param}",
                               (pattern.sub(ERASED, text), row_id))
    needle = re.compile(re.escape(address.encode()), re.IGNORECASE)
    for table in ("inbound", "outbound"):
        for row_id in _ids(f"SELECT id FROM {table} WHERE {_raw_holds('raw')}", address):
            raw = needle.sub(ERASED.encode(), bytes(db.execute_sql(f"SELECT raw FROM {table} WHERE id = {db.param}",
                                                                   (row_id,)).fetchone()[0]))
            size = ", size = {p}".format(p=db.param) if table == "inbound" else ""
            db.execute_sql(f"UPDATE {table} SET raw = {db.param}{size} WHERE id = {db.param}",
                           (raw, len(raw), row_id) if size else (raw, row_id))


def _reclaim() -> None:
    """Make deleted rows' bytes go from the files: SQLite rewrites the database (VACUUM) and
    empties its write-ahead log; PostgreSQL's VACUUM frees the dead rows for reuse."""
    if postgres():
        for table in ("inbound", "outbound", '"case"', "case_event", "subscriber", "suppression"):
            db.execute_sql(f"VACUUM {table}")
    else:
        db.execute_sql("VACUUM")
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
