"""The inbound queue: every message exactly as it arrived, its lease, and what became of it;
the queues a person looks after (parked and quarantined mail); IMAP's place in each folder."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from email.parser import BytesHeaderParser
from email import policy
from typing import Iterable

import peewee as pw

from gateway.db.connection import _one, as_datetime, insert, lease_skipping_locked, plain, plain_type, postgres, storable, utc
from gateway.db.models import ImapState, Inbound, Outbound, db
from gateway.db.outbox import Delivery

IMAP_COPY = "(sha256) WHERE source = 'imap' AND sha256 <> '' DO NOTHING"

# A stored message: the columns of models.Inbound. `lease_owner` names the claim that holds it.
Message = plain_type("Message", Inbound)
FolderState = plain_type("FolderState", ImapState)


def header_message_id(raw: bytes) -> str | None:
    """The Message-ID, read cheaply from the headers alone; None if absent or unreadable."""
    try:
        headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw[:65536])
        value = headers.get("Message-ID")
    except Exception:  # any bytes at all may arrive; the worker reports what is wrong
        return None
    value = str(value).strip() if value else ""
    return value[:998] or None


def save_inbound(raw: bytes, mail_from: str, rcpt_tos: Iterable[str], source: str,
                 now: dt.datetime, peer: str | None = None, helo: str | None = None) -> int:
    """Store a message durably; when this returns, it is committed. `peer` and `helo` are
    the SMTP client's address and HELO name (for SPF and trusted networks), None otherwise."""
    with db.atomic():
        return insert("inbound", received_at=utc(now), source=source, mail_from=storable(mail_from),
                      rcpt_tos=storable("\n".join(rcpt_tos)), raw=raw, size=len(raw), sha256=hashlib.sha256(raw).hexdigest(),
                      message_id=header_message_id(raw), state="queued", attempts=0, peer=peer, helo=helo,
                      deferrals=0)


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
        # Two daemons reading one mailbox may both get here: the database keeps one (the
        # unique index of migration 0010), and the other learns which.
        new = insert("inbound", on_conflict=IMAP_COPY, received_at=utc(now), source=source,
                     mail_from=storable(mail_from), rcpt_tos=storable("\n".join(rcpt_tos)), raw=raw, size=len(raw),
                     sha256=digest, message_id=header_message_id(raw), state="queued", attempts=0, deferrals=0)
        if new is not None:
            return new, True
        return Inbound.select(Inbound.id).where(Inbound.sha256 == digest).order_by(Inbound.id).first().id, False


def first_with_message_id(message_id: str) -> Message | None:
    """The first stored message with this Message-ID."""
    return plain(Inbound.select().where(Inbound.message_id == message_id).order_by(Inbound.id).first(), Message)


def imap_state(mailbox: str) -> FolderState | None:
    return plain(ImapState.get_or_none(ImapState.mailbox == mailbox), FolderState)


def set_imap_state(mailbox: str, uidvalidity: int, last_uid: int, now: dt.datetime) -> None:
    with db.atomic():
        updated = (ImapState.update(uidvalidity=uidvalidity, last_uid=last_uid, updated_at=utc(now))
                   .where(ImapState.mailbox == mailbox).execute())
        if not updated:
            ImapState.create(mailbox=mailbox, uidvalidity=uidvalidity, last_uid=last_uid, updated_at=utc(now))


def claim_inbound(owner: str, now: dt.datetime, lease_seconds: int, limit: int = 1) -> list[Message]:
    """Lease up to `limit` of the oldest stored messages nobody holds (one write for them all),
    oldest first; [] when there are none."""
    now = utc(now)
    free = "state = 'queued' AND (lease_until IS NULL OR lease_until < {p})".format(p=db.param)
    lease = f"{owner}#{uuid.uuid4().hex[:12]}"  # names exactly the rows this call won
    until = now + dt.timedelta(seconds=lease_seconds)
    if postgres():
        rows = lease_skipping_locked(Inbound, free, "ORDER BY id", limit, lease, until, (now,))
        return sorted((plain(row, Message) for row in rows), key=lambda m: m.id)
    candidates = [row[0] for row in db.execute_sql(
        f"SELECT id FROM inbound WHERE {free} ORDER BY id LIMIT {int(limit)}", (now,)).fetchall()]
    if not candidates:
        return []
    marks = ", ".join([db.param] * len(candidates))
    # A conditional UPDATE: of two workers, only one wins each message.
    db.execute_sql(f"UPDATE inbound SET lease_owner = {db.param}, lease_until = {db.param}, attempts = attempts + 1 "
                   f"WHERE id IN ({marks}) AND {free}", (lease, until, *candidates, now))
    return [plain(row, Message) for row in pw.ModelRaw(Inbound, f"SELECT * FROM inbound WHERE lease_owner = {db.param} "
                                                        "ORDER BY id", (lease,))]


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


def _held_by(lease: str | None) -> str:
    """The condition that the row is still held by `lease` (None: by anyone, for a person's
    command)."""
    return "" if lease is None else " AND lease_owner = {p}".format(p=db.param)


def finish_inbound(inbound_id: int, kind: str, case, now: dt.datetime, why: str | None = None,
                   lease: str | None = None) -> bool:
    """Done with a message; `why` says why it was set aside (quarantined, held), for people.
    False when `lease` no longer holds it (it ran out and another worker took the message):
    the caller must then undo what it did with it."""
    cursor = db.execute_sql("UPDATE inbound SET state = 'done', kind = {p}, case_id = {p}, processed_at = {p}, "
                            "lease_owner = NULL, lease_until = NULL, stage = NULL, error = {p} WHERE id = {p}"
                            .format(p=db.param) + _held_by(lease),
                            (kind, case.id if case else None, utc(now), why, inbound_id, *([lease] if lease else [])))
    return cursor.rowcount == 1


def defer_inbound(inbound_id: int, until: dt.datetime, why: str, lease: str | None = None,
                  counted: bool = True) -> bool:
    """Put a message back to wait until `until` (its sender could not be checked: DNS failed;
    or, not `counted`, another daemon was busy with the same message or sender). Its attempts
    start again: waiting is not the message failing. False when `lease` no longer holds it."""
    cursor = db.execute_sql("UPDATE inbound SET state = 'queued', lease_owner = NULL, lease_until = {p}, attempts = 0, "
                            "deferrals = deferrals + {p}, error = {p} WHERE id = {p}".format(p=db.param) + _held_by(lease),
                            (utc(until), int(counted), why[:500], inbound_id, *([lease] if lease else [])))
    return cursor.rowcount == 1


def renew_inbound(leases: dict[int, str], until: dt.datetime) -> set[int]:
    """Extend to `until` the leases of messages in hand ({id: the lease that holds it}); the
    ids still held (one whose lease ran out and was taken by another worker is not)."""
    if not leases:
        return set()
    ids, owners = list(leases), sorted(set(leases.values()))
    held = "state = 'queued' AND id IN ({ids}) AND lease_owner IN ({owners})".format(
        ids=", ".join([db.param] * len(ids)), owners=", ".join([db.param] * len(owners)))
    with db.atomic():
        db.execute_sql(f"UPDATE inbound SET lease_until = {db.param} WHERE {held}", (utc(until), *ids, *owners))
        rows = db.execute_sql(f"SELECT id, lease_owner FROM inbound WHERE {held}", (*ids, *owners)).fetchall()
    return {row[0] for row in rows if leases.get(row[0]) == row[1]}


def release_inbound(leases: dict[int, str]) -> None:
    """Give back messages in hand, not begun ({id: lease}), to be claimed again at once; as
    they were not tried, their attempts start again."""
    if not leases:
        return
    ids, owners = list(leases), sorted(set(leases.values()))
    with db.atomic():
        db.execute_sql("UPDATE inbound SET lease_owner = NULL, lease_until = NULL, attempts = 0 WHERE state = 'queued' "
                       "AND id IN ({ids}) AND lease_owner IN ({owners})".format(
                           ids=", ".join([db.param] * len(ids)), owners=", ".join([db.param] * len(owners))),
                       (*ids, *owners))


def park_inbound(inbound_id: int, stage: str, error: str, now: dt.datetime, lease: str | None = None) -> None:
    """Set a message aside after an unexpected failure, with the stage and the reason (with
    `lease`, only while that claim still holds it: another worker may be handling it now)."""
    where = Inbound.id == inbound_id
    if lease is not None:
        where &= Inbound.lease_owner == lease
    with db.atomic():
        Inbound.update(state="parked", stage=stage, error=error, processed_at=utc(now),
                       lease_owner=None, lease_until=None).where(where).execute()


def parked_inbound() -> list[Message]:
    return [plain(row, Message) for row in Inbound.select(Inbound.id, Inbound.received_at, Inbound.mail_from, Inbound.stage,
                               Inbound.error, Inbound.attempts)
                .where(Inbound.state == "parked").order_by(Inbound.id)]


def retry_parked(ids: list[int] | None) -> int:
    """Put parked messages back in the queue (all of them when ids is None)."""
    query = Inbound.update(state="queued", stage=None, error=None).where(Inbound.state == "parked")
    if ids is not None:
        query = query.where(Inbound.id.in_(ids))
    return query.execute()


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


def queue_item(item_id: str) -> Message | Delivery | None:
    kind, _, number = item_id.partition(":")
    if not number.isdigit() or int(number) >= 2 ** 63:
        return None
    model, kind = {"in": (Inbound, Message), "out": (Outbound, Delivery)}.get(kind, (None, None))
    return plain(model.get_or_none(model.id == int(number)), kind) if model else None


def requeue(item_id: str, now: dt.datetime, deadline_hours: float) -> str | None:
    """Put an item back: a parked message into the pipeline, a failed delivery into the
    outbox with a fresh deadline. Returns what was done, or None if it cannot be retried."""
    row = queue_item(item_id)
    if isinstance(row, Message) and row.state == "parked":
        Inbound.update(state="queued", stage=None, error=None, attempts=0).where(Inbound.id == row.id).execute()
        return "back in the inbound queue"
    if isinstance(row, Delivery) and row.state == "failed":
        Outbound.update(state="queued", next_attempt_at=utc(now), lease_owner=None, lease_until=None, attempts=0,
                        deadline=utc(now) + dt.timedelta(hours=deadline_hours)).where(Outbound.id == row.id).execute()
        return "back in the outbox"
    return None


def release_quarantined(item_id: str) -> bool:
    """Let a quarantined message through: it goes through the pipeline without the spam check."""
    row = queue_item(item_id)
    if not (isinstance(row, Message) and row.state == "done" and row.kind == "quarantine"):
        return False
    Inbound.update(state="queued", kind="released", stage=None, error=None, attempts=0) \
        .where(Inbound.id == row.id).execute()
    return True


def purge(item_id: str) -> bool:
    """Delete a quarantined message for good (spam a person has looked at). Its bytes and
    envelope go; a bare row stays, so that its id is never handed out again (SQLite would
    reuse the highest id of a deleted row, and log lines would then be ambiguous)."""
    row = queue_item(item_id)
    if not (isinstance(row, Message) and row.state == "done" and row.kind == "quarantine"):
        return False
    Inbound.update(state="purged", kind="purged", raw=b"", size=0, mail_from="", rcpt_tos="", message_id=None,
                   sha256="", error=None, stage=None).where(Inbound.id == row.id).execute()
    return True


def bounce_reasons_since(since: dt.datetime, reasons) -> dict[str, int]:
    """Delivery reports since `since` whose reason is one of `reasons`, by reason."""
    counts: dict[str, int] = {}
    for (why,) in db.execute_sql("SELECT error FROM inbound WHERE kind = 'bounce' AND processed_at > {p} "
                                 "AND error IS NOT NULL".format(p=db.param), (utc(since),)).fetchall():
        reason = why.split(":", 1)[0]
        if reason in reasons:
            counts[reason] = counts.get(reason, 0) + 1
    return counts


def queue_counts() -> dict[str, int]:
    """How many items sit in each state, for `gateway status`."""
    counts: dict[str, int] = {}
    for model, name in ((Inbound, "inbound"), (Outbound, "outbound")):
        for row in model.select(model.state, pw.fn.COUNT(model.id).alias("n")).group_by(model.state).dicts():
            counts[f"{name} {row['state']}"] = row["n"]
    return counts


def form_submissions_since(client: str, since: dt.datetime, limit: int) -> tuple[int, dt.datetime | None]:
    """How many messages the online form stored from `client` since `since` (counted up to
    `limit`), and when the oldest of those arrived (None: none)."""
    rows = db.execute_sql(
        f"SELECT received_at FROM inbound WHERE source = 'form' AND peer = {db.param} AND received_at >= {db.param} "
        f"ORDER BY received_at LIMIT {int(limit)}", (client, utc(since))).fetchall()
    return len(rows), (as_datetime(rows[0][0]) if rows else None)


def save_form_inbound(raw: bytes, mail_from: str, rcpt_tos: Iterable[str], now: dt.datetime, client: str,
                      limit: int) -> tuple[int | None, dt.datetime | None]:
    """Store a message from the online form unless `client` has stored `limit` in the last
    hour (0: no limit): (its id, None), or (None, when the oldest of those arrived). Counted
    and stored in one transaction, under a lock on the client on PostgreSQL (SQLite has one
    writer at a time), so submissions sent at once never pass the limit together."""
    with db.atomic():
        if limit:
            if postgres():   # waited for: one lock, so no two daemons can wait on each other
                db.execute_sql(f"SELECT pg_advisory_xact_lock(hashtextextended({db.param}, 0))", (f"form:{client}",))
            count, oldest = form_submissions_since(client, now - dt.timedelta(hours=1), limit)
            if count >= limit:
                return None, oldest
        return save_inbound(raw, mail_from, rcpt_tos, "form", now, peer=client), None


def outcome(inbound_id: int) -> tuple[str, str | None, str | None, dt.date | None, bool]:
    """(state, kind, case reference, due date, urgent) of a stored message; state "queued"
    while the pipeline has not yet handled it."""
    row = _one('SELECT i.state, i.kind, c.reference, c.due_date, c.urgent FROM inbound i '
               'LEFT JOIN "case" c ON c.id = i.case_id WHERE i.id = ?', inbound_id)
    if row is None:
        return "gone", None, None, None, False
    due = row[3]
    if due is not None and not isinstance(due, dt.date):
        due = dt.date.fromisoformat(str(due)[:10])
    return row[0], row[1], row[2], due, bool(row[4])
