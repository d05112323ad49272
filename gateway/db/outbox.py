"""The durable outbox: one row per message per recipient, leased by delivery workers."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass



from gateway.db.connection import _one, insert, lease_skipping_locked, plain, plain_type, postgres, utc
from gateway.db.models import Outbound, db

# A message in the outbox: the columns of models.Outbound.
Delivery = plain_type("Delivery", Outbound)


def acks_since(address: str, since: dt.datetime, limit: int) -> int:
    """Acknowledgements queued to an address after `since`, counted up to `limit` at most
    (the outbox keeps them: the limit holds across restarts)."""
    return _one("SELECT count(*) FROM (SELECT 1 FROM outbound WHERE rcpt_to = ? AND purpose = 'resident_ack' "
                "AND created_at > ? LIMIT ?) AS t", address, utc(since), limit)[0]


def queued_to_mailbox_since(mailbox: str, purposes: tuple[str, ...], since: dt.datetime, limit: int) -> int:
    """Mail of these purposes queued to one mailbox after `since`, however its address was
    written (local@domain, or local+detail@domain: sub-addressing; case aside), counted up to
    `limit` at most ([limits] auto_replies_per_address_per_day: read from the outbox inside
    the message's transaction, so it holds across restarts and daemons)."""
    local, _, domain = mailbox.rpartition("@")
    pattern = (local.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "+%@"
               + domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
    marks = ", ".join("?" * len(purposes))
    return _one(f"SELECT count(*) FROM (SELECT 1 FROM outbound WHERE (lower(rcpt_to) = ? OR lower(rcpt_to) LIKE ? "
                f"ESCAPE '\\') AND purpose IN ({marks}) AND created_at > ? LIMIT ?) AS t",
                mailbox, pattern, *purposes, utc(since), limit)[0]


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


@dataclass(frozen=True)
class Outgoing:
    """A rendered message ready for the outbox."""

    purpose: str
    mail_from: str
    rcpt_to: str
    message_id: str
    raw: bytes
    priority: int = 5


def delivery(outbound_id: int) -> Delivery | None:
    return plain(Outbound.get_or_none(Outbound.id == outbound_id), Delivery)


def enqueue(mail: Outgoing, now: dt.datetime, deadline: dt.datetime, case=None,
            inbound_id: int | None = None) -> int:
    """Add a message to the outbox; call inside the transaction that made it necessary."""
    return insert("outbound", created_at=utc(now), case_id=case.id if case else None, inbound_id=inbound_id,
                  purpose=mail.purpose, mail_from=mail.mail_from, rcpt_to=mail.rcpt_to, message_id=mail.message_id,
                  raw=mail.raw, priority=mail.priority, next_attempt_at=utc(now), deadline=utc(deadline),
                  state="queued", attempts=0)


def claim_outbound_batch(owner: str, now: dt.datetime, lease_seconds: int, limit: int) -> list[Delivery]:
    """Lease up to `limit` due messages at once, most urgent first (one write, not `limit`).

    Plain SQL: this runs for every batch, and the ORM's query building cost more than the
    queries themselves (bench/bulletin.py). On PostgreSQL one statement with SKIP LOCKED:
    daemons claiming at once each take different rows instead of queueing on the same ones."""
    now = utc(now)
    free = "state = 'queued' AND next_attempt_at <= {p} AND (lease_until IS NULL OR lease_until < {p})"
    free = free.format(p=db.param)
    order = "ORDER BY priority, next_attempt_at, id"
    lease = f"{owner}#{uuid.uuid4().hex[:12]}"  # names exactly the rows this call won
    until = now + dt.timedelta(seconds=lease_seconds)
    if postgres():
        rows = lease_skipping_locked(Outbound, free, order, limit, lease, until, (now, now))
        return sorted((plain(row, Delivery) for row in rows), key=lambda d: (d.priority, d.next_attempt_at, d.id))
    candidates = [row[0] for row in db.execute_sql(
        f"SELECT id FROM outbound WHERE {free} {order} LIMIT {int(limit)}", (now, now)).fetchall()]
    if not candidates:
        return []
    ids = ", ".join([db.param] * len(candidates))
    # "state || ''" keeps the planner on the primary key: offered the index on state, SQLite
    # walked every queued row (a 200,000-row bulletin made each claim take 40 ms).
    still_free = free.replace("state = 'queued'", "state || '' = 'queued'")
    with db.atomic():
        db.execute_sql(f"UPDATE outbound SET lease_owner = {db.param}, lease_until = {db.param}, "
                       f"attempts = attempts + 1 WHERE id IN ({ids}) AND {still_free}",
                       (lease, until, *candidates, now, now))
    return [plain(row, Delivery) for row in Outbound.select().where(Outbound.id.in_(candidates) & (Outbound.lease_owner == lease))
            .order_by(Outbound.priority, Outbound.next_attempt_at, Outbound.id)]


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


def _held(outbound_id: int, lease: str | None):
    where = Outbound.id == outbound_id
    return where if lease is None else where & (Outbound.lease_owner == lease)


def mark_sent(outbound_ids: int | list[int], now: dt.datetime) -> None:
    # Sent is sent: marked whoever holds the lease now (were it another worker's, it must not
    # send the message again).
    # Plain SQL: this runs for every message delivered, and building the query through the
    # ORM cost more than the commit itself (bench/bulletin.py).
    ids = [outbound_ids] if isinstance(outbound_ids, int) else list(outbound_ids)
    if ids:
        marks = ", ".join([db.param] * len(ids))
        db.execute_sql(f"UPDATE outbound SET state = 'sent', sent_at = {db.param}, lease_owner = NULL, "
                       f"lease_until = NULL, last_error = NULL WHERE id IN ({marks})", (utc(now), *ids))


# With `lease`, the three below change the row only while that claim still holds it: a worker
# whose lease ran out must not hand back (and so free) a row another worker is sending.

def mark_failed(outbound_id: int, error: str, lease: str | None = None) -> None:
    Outbound.update(state="failed", lease_owner=None, lease_until=None,
                    last_error=error).where(_held(outbound_id, lease)).execute()


def mark_skipped(outbound_id: int, why: str, lease: str | None = None) -> None:
    Outbound.update(state="skipped", lease_owner=None, lease_until=None,
                    last_error=why).where(_held(outbound_id, lease)).execute()


def reschedule(outbound_id: int, at: dt.datetime, error: str, lease: str | None = None) -> None:
    Outbound.update(next_attempt_at=utc(at), lease_owner=None, lease_until=None,
                    last_error=error).where(_held(outbound_id, lease)).execute()


def retry_deferred_now(now: dt.datetime) -> int:
    """Make due now the mail waiting for its next try because the relay could not be reached
    or used (not mail the relay itself answered 4xx, nor an acknowledgement waiting under
    [limits] acks_per_hour): at a daemon's start, and when the relay answers again after an
    outage, rather than at the growing [relay] retry_delays. How many rows."""
    cursor = db.execute_sql("UPDATE outbound SET next_attempt_at = {p} WHERE state = 'queued' AND next_attempt_at > {p} "
                            "AND attempts > 0 AND last_error IS NOT NULL AND substr(last_error, 1, 15) <> 'relay answered ' "
                            "AND substr(last_error, 1, 8) <> 'waiting:'".format(p=db.param), (utc(now), utc(now)))
    return cursor.rowcount
