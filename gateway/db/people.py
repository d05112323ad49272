"""Subscribers to alert bulletins, their areas, suppressed addresses and bounce scores."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


from typing import Iterator

from gateway.db import audit, models
from gateway.db.connection import _one, as_datetime, plain, plain_type, utc
from gateway.db.models import Subscription, Suppression, db

# A subscriber: the columns of models.Subscriber.
Subscriber = plain_type("Subscriber", models.Subscriber)


def subscriber(subscriber_id: int | None = None, address: str | None = None) -> Subscriber | None:
    """A subscriber by id or by address (lower-cased), or None."""
    table = models.Subscriber
    where = table.id == subscriber_id if subscriber_id is not None else table.address == (address or "").lower()
    return plain(table.get_or_none(where), Subscriber)


def sign_up(address: str, name: str, language: str, areas: list[str], now: dt.datetime) -> tuple[Subscriber, list[str]]:
    """A resident asked by mail for these areas: (the subscriber, the areas now pending their
    confirmation; those already active are left alone). The language they wrote in last is theirs."""
    row, created = models.Subscriber.get_or_create(address=address, defaults={
        "name": name, "created_at": utc(now), "language": language})
    if not created and row.language != language:
        models.Subscriber.update(language=language).where(models.Subscriber.id == row.id).execute()
        row.language = language
    pending = []
    for area in areas:
        sub, _ = Subscription.get_or_create(subscriber=row.id, area=area, defaults={"created_at": utc(now)})
        if sub.state != "active":
            Subscription.update(state="pending", ended_at=None).where(Subscription.id == sub.id).execute()
            pending.append(area)
    return plain(row, Subscriber), pending


def ask_confirmation(subscriber_id: int, areas: list[str], now: dt.datetime, since: dt.datetime) -> list[str]:
    """Of these pending areas, those whose confirmation was not asked for after `since`, now
    marked as asked. One conditional write per area: two daemons asking at once cannot both
    win (PostgreSQL makes the second wait for the first's commit, then finds it asked)."""
    asked = []
    for area in areas:
        won = db.execute_sql("UPDATE subscription SET asked_at = {p} WHERE subscriber_id = {p} AND area = {p} "
                             "AND (asked_at IS NULL OR asked_at <= {p}) RETURNING id".format(p=db.param),
                             (utc(now), subscriber_id, area, utc(since))).fetchall()
        if won:
            asked.append(area)
    return asked


def confirm(subscriber_id: int, now: dt.datetime) -> list[str]:
    """Start a subscriber's pending subscriptions; their areas."""
    areas = [a for (a,) in Subscription.select(Subscription.area).where(
        (Subscription.subscriber == subscriber_id) & (Subscription.state == "pending")).order_by(Subscription.id).tuples()]
    Subscription.update(state="active", confirmed_at=utc(now)).where(
        (Subscription.subscriber == subscriber_id) & (Subscription.state == "pending")).execute()
    return areas


def unsubscribe(subscriber_id: int, now: dt.datetime) -> int:
    """End every subscription of a resident at once (by mail, the web, or the CLI); how many."""
    return (Subscription.update(state="ended", ended_at=utc(now))
            .where((Subscription.subscriber == subscriber_id) & (Subscription.state != "ended")).execute())


def add_many(rows: list[tuple[str, str, tuple[str, ...]]], now: dt.datetime,
             resubscribe: bool = False) -> tuple[int, list[tuple[str, str]]]:
    """An administrator's (address, name, areas): subscriptions started at once. Returns how
    many started, and the (address, area) pairs left alone because the resident ended them
    (`resubscribe` only with their new consent)."""
    at = utc(now)
    gone = set() if resubscribe else unsubscribed_among([a for a, _, _ in rows])
    forgotten = [(a, area) for a, _, areas in rows if a in gone for area in areas]
    rows = [row for row in rows if row[0] not in gone]
    if not rows:
        return 0, forgotten
    with db.atomic():
        # An administrator's list does not say which language a resident reads: "" (unknown),
        # so their bulletins come in Welsh and English, Welsh first, as Welsh public bodies do.
        models.Subscriber.insert_many([{"address": a, "name": n[:200], "created_at": at, "language": ""}
                                       for a, n, _ in rows]).on_conflict_ignore().execute()
        ids = dict(models.Subscriber.select(models.Subscriber.address, models.Subscriber.id)
                   .where(models.Subscriber.address.in_([a for a, _, _ in rows])).tuples())
        wanted = [(ids[a], area) for a, _, areas in rows for area in areas]
        existing = {(s, area): state for s, area, state in Subscription
                    .select(Subscription.subscriber, Subscription.area, Subscription.state)
                    .where(Subscription.subscriber.in_(list(ids.values()))).tuples()}
        fresh = [{"subscriber": s, "area": area, "state": "active", "created_at": at, "confirmed_at": at}
                 for s, area in dict.fromkeys(wanted) if (s, area) not in existing]
        Subscription.insert_many(fresh).on_conflict_ignore().execute()
        # Someone who ended a subscription asked us to stop: an administrator's list (often an
        # export of this one) never brings them back, unless they have asked again.
        again = ("pending", "ended") if resubscribe else ("pending",)
        restarted = [(s, area) for s, area in dict.fromkeys(wanted) if existing.get((s, area)) in again]
        for s, area in restarted:
            Subscription.update(state="active", confirmed_at=at, ended_at=None) \
                .where((Subscription.subscriber == s) & (Subscription.area == area)).execute()
        address_of = {i: a for a, i in ids.items()}
        left = [(address_of[s], area) for s, area in dict.fromkeys(wanted)
                if existing.get((s, area)) == "ended" and not resubscribe]
    return len(fresh) + len(restarted), forgotten + left


def subscriptions(area: str | None = None, state: str | None = None) -> Iterator[tuple[str, str, str, str]]:
    """(address, name, area, state) of every subscription, streamed in address order."""
    query = (Subscription.select(models.Subscriber.address, models.Subscriber.name, Subscription.area,
                                 Subscription.state)
             .join(models.Subscriber).order_by(models.Subscriber.address, Subscription.area))
    if area:
        query = query.where(Subscription.area == area)
    if state:
        query = query.where(Subscription.state == state)
    return query.tuples().iterator()


def active_areas(subscriber_id: int, areas: list[str]) -> set[str]:
    """Which of these areas a subscriber takes now."""
    return {a for (a,) in Subscription.select(Subscription.area).where(
        (Subscription.subscriber == subscriber_id) & Subscription.area.in_(areas)
        & (Subscription.state == "active")).tuples()}


def suppress(address: str, reason: str, now: dt.datetime) -> None:
    """Send nothing optional to this address again (a hard bounce, a complaint)."""
    Suppression.insert(address=address.lower(), reason=reason, at=utc(now)).on_conflict_ignore().execute()


def is_suppressed(address: str) -> bool:
    return bool(suppressed_among([address]))


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
    """Which of these addresses nothing optional may be sent to. A suppression kept after the
    resident's data was erased or purged holds the address's hash (audit.pseudonyms); one that
    only says they ended their subscriptions ("unsubscribed") does not stop other mail."""
    if not addresses:
        return set()
    by_key = {key: a for a in addresses for key in (a, *audit.pseudonyms(a))}
    marks = ", ".join([db.param] * len(by_key))
    return {by_key[row[0]] for row in db.execute_sql(
        f"SELECT address FROM suppression WHERE address IN ({marks}) AND reason <> 'unsubscribed'",
        list(by_key)).fetchall()}


def unsubscribed_among(addresses: list[str]) -> set[str]:
    """Which of these addresses ended their subscriptions so long ago that only the hash of
    the address is kept: an administrator's list must not bring them back."""
    if not addresses:
        return set()
    by_key = {key: a for a in addresses for key in audit.pseudonyms(a)}
    found: set[str] = set()
    keys = list(by_key)
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        found |= {by_key[row[0]] for row in db.execute_sql(
            f"SELECT address FROM suppression WHERE address IN ({', '.join([db.param] * len(chunk))}) "
            "AND reason = 'unsubscribed'", chunk).fetchall()}
    return found
