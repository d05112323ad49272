"""Alert bulletins and their fan-out.

Fan-out streams the subscribers of the bulletin's areas in id order, a batch at a time; each
batch's outbox rows and the bulletin's cursor are committed together, so a crash at any
point resumes from the cursor with no one missed and no one twice (a unique index on
(bulletin, subscriber) backs this up). A batch holds the bulletin's row lock: on PostgreSQL
a second daemon (or `gateway bulletin send`) finds it locked and leaves the batch to whoever
holds it; on SQLite the write lock does the same.
"""

from __future__ import annotations

import datetime as dt

import peewee as pw

from gateway.db import models
from gateway.db.connection import for_update_skip_locked, plain, plain_type, utc
from gateway.db.models import Outbound, Subscription, Suppression, db
from gateway.db.people import suppressed_among

# A bulletin: the columns of models.Bulletin.
Bulletin = plain_type("Bulletin", models.Bulletin)


def create(areas: list[str], subject: str, body: str, created_by: str, now: dt.datetime,
           state: str = "enqueuing", subject_cy: str = "") -> Bulletin:
    row = models.Bulletin.create(areas=",".join(areas), subject=subject, body=body, created_by=created_by,
                                 created_at=utc(now), state=state, subject_cy=subject_cy)
    return get(row.id)


def get(bulletin_id: int) -> Bulletin | None:
    return plain(models.Bulletin.get_or_none(models.Bulletin.id == bulletin_id), Bulletin)


def several(bulletin_ids) -> dict[int, Bulletin]:
    table = models.Bulletin
    return {row.id: plain(row, Bulletin) for row in table.select().where(table.id.in_(list(bulletin_ids)))}


def newest_first() -> list[Bulletin]:
    return [plain(row, Bulletin) for row in models.Bulletin.select().order_by(models.Bulletin.id.desc())]


def enqueuing() -> list[int]:
    """Bulletins whose fan-out is not finished (published by email, or a CLI that stopped)."""
    return [row.id for row in models.Bulletin.select(models.Bulletin.id).where(models.Bulletin.state == "enqueuing")]


def publish(bulletin_id: int) -> bool:
    """A draft goes out (its fan-out may begin); False if it was not a draft any more."""
    table = models.Bulletin
    return bool(table.update(state="enqueuing").where((table.id == bulletin_id) & (table.state == "draft")).execute())


def set_state(bulletin_id: int, state: str) -> None:
    models.Bulletin.update(state=state).where(models.Bulletin.id == bulletin_id).execute()


def _active(areas: list[str]):
    return (Subscription.select(Subscription.subscriber)
            .where(Subscription.area.in_(areas) & (Subscription.state == "active")))


def audience(areas: list[str]) -> tuple[int, int]:
    """(residents who would receive a bulletin to these areas, suppressed ones skipped)."""
    table = models.Subscriber
    subscribers = table.select().where(table.id.in_(_active(areas)))
    total = subscribers.count()
    suppressed = subscribers.where(table.address.in_(Suppression.select(Suppression.address))).count()
    return total - suppressed, suppressed


def fan_out_batch(bulletin_id: int, now: dt.datetime, deadline: dt.datetime, mail_from: str, priority: int,
                  batch: int) -> tuple[Bulletin | None, bool]:
    """Give the next `batch` subscribers of a bulletin their outbox rows, in one transaction.
    (the bulletin after it, whether the fan-out is finished). (None, False) when another
    daemon holds the bulletin's batch just now: leave it to them."""
    now = utc(now)
    with db.atomic():
        locked = db.execute_sql(f"SELECT id FROM bulletin WHERE id = {db.param}{for_update_skip_locked()}",
                                (bulletin_id,)).fetchall()
        if not locked:   # no such bulletin, or another daemon is on it
            return None, False
        bulletin = models.Bulletin.get_by_id(bulletin_id)
        if bulletin.state != "enqueuing":
            return plain(bulletin, Bulletin), True
        table = models.Subscriber
        rows = list(table.select(table.id, table.address)
                    .where(table.id.in_(_active(bulletin.areas.split(","))) & (table.id > bulletin.cursor))
                    .order_by(table.id).limit(batch).tuples())
        if not rows:
            bulletin.state, bulletin.enqueued_at = "queued", now
            bulletin.save()
            return plain(bulletin, Bulletin), True
        suppressed = suppressed_among([a for _, a in rows])
        domain = mail_from.rpartition("@")[2]
        suppressed |= {a for _, a in rows if a.endswith("@" + domain)}   # never our own addresses
        fresh = [dict(created_at=now, purpose="bulletin", mail_from=mail_from, rcpt_to=address,
                      message_id=f"<bulletin-{bulletin.id}-{sid}@{domain}>", raw=b"", priority=priority,
                      next_attempt_at=now, deadline=utc(deadline), bulletin=bulletin.id, subscriber=sid)
                 for sid, address in rows if address not in suppressed]
        for start in range(0, len(fresh), 500):  # SQLite's limit on bound variables
            Outbound.insert_many(fresh[start:start + 500]).on_conflict_ignore().execute()
        bulletin.cursor = rows[-1][0]
        bulletin.recipients += len(fresh)
        bulletin.skipped += len(rows) - len(fresh)
        bulletin.save()
        return plain(bulletin, Bulletin), False


def mark_finished() -> int:
    """Bulletins fully fanned out with nothing left to send become `sent` (their failed and
    skipped copies stay counted on their rows); how many changed."""
    table = models.Bulletin
    return (table.update(state="sent")
            .where((table.state == "queued")
                   & ~pw.fn.EXISTS(Outbound.select(Outbound.id).where((Outbound.bulletin == table.id)
                                                                       & (Outbound.state == "queued"))))
            .execute())


def progress_counts(bulletin_id: int) -> dict[str, int]:
    """Outbox rows of a bulletin by state: queued, sent, failed, skipped."""
    counts = {"queued": 0, "sent": 0, "failed": 0, "skipped": 0}
    query = (Outbound.select(Outbound.state, pw.fn.COUNT(Outbound.id).alias("n"))
             .where(Outbound.bulletin == bulletin_id).group_by(Outbound.state).tuples())
    for state, n in query:
        counts[state] = n
    return counts
