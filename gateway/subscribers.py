"""Administrators' side of the subscriber list: add, remove, import and export.

An administrator vouches for the addresses they add or import (a list moved from an older
system, say), so those subscriptions start at once; residents who sign up by email confirm
by replying first.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import IO, Iterable, Iterator

from gateway import store
from gateway.config import Settings
from gateway.models import Subscriber, Subscription, db

ADDRESS_RE = re.compile(r"^[^@\s<>\"(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,}$")
BATCH = 1000
COLUMNS = ("address", "name", "areas", "state")


@dataclass
class ImportResult:
    added: int = 0
    already: int = 0
    problems: list[str] = field(default_factory=list)


def add(address: str, areas: Iterable[str], name: str, now: dt.datetime) -> int:
    """Subscribe an address to areas at once; return how many subscriptions started."""
    result = _add_many([(address.strip().lower(), name, tuple(areas))], now)
    return result


def _add_many(rows: list[tuple[str, str, tuple[str, ...]]], now: dt.datetime) -> int:
    at = store.utc(now)
    with db.atomic():
        Subscriber.insert_many([{"address": a, "name": n[:200], "created_at": at} for a, n, _ in rows]) \
            .on_conflict_ignore().execute()
        ids = dict(Subscriber.select(Subscriber.address, Subscriber.id)
                   .where(Subscriber.address.in_([a for a, _, _ in rows])).tuples())
        wanted = [(ids[a], area) for a, _, areas in rows for area in areas]
        existing = {(s, area): state for s, area, state in Subscription
                    .select(Subscription.subscriber, Subscription.area, Subscription.state)
                    .where(Subscription.subscriber.in_(list(ids.values()))).tuples()}
        fresh = [{"subscriber": s, "area": area, "state": "active", "created_at": at, "confirmed_at": at}
                 for s, area in dict.fromkeys(wanted) if (s, area) not in existing]
        Subscription.insert_many(fresh).on_conflict_ignore().execute()
        restarted = [(s, area) for s, area in wanted if existing.get((s, area)) in ("pending", "ended")]
        for s, area in restarted:
            Subscription.update(state="active", confirmed_at=at, ended_at=None) \
                .where((Subscription.subscriber == s) & (Subscription.area == area)).execute()
    return len(fresh) + len(restarted)


def remove(address: str, now: dt.datetime) -> int | None:
    """End every subscription of an address; None if it is not on the list."""
    from gateway.pipeline.alerts import unsubscribe

    subscriber = Subscriber.get_or_none(Subscriber.address == address.strip().lower())
    return None if subscriber is None else unsubscribe(subscriber, now)


def import_csv(handle: IO[str], settings: Settings, default_areas: tuple[str, ...], now: dt.datetime) -> ImportResult:
    """Rows of address[,name[,areas]] (areas separated by spaces or ';'), a header optional."""
    result, batch = ImportResult(), []
    known = {a.key for a in settings.areas}
    for number, row in enumerate(csv.reader(handle), start=1):
        if not row or not row[0].strip() or (number == 1 and row[0].strip().lower() == "address"):
            continue
        address = row[0].strip().lower()
        name = row[1].strip() if len(row) > 1 else ""
        areas = tuple(re.split(r"[;\s]+", row[2].strip())) if len(row) > 2 and row[2].strip() else default_areas
        unknown = [a for a in areas if a not in known]
        if not ADDRESS_RE.match(address):
            result.problems.append(f"line {number}: {row[0]!r} is not an email address")
        elif not areas:
            result.problems.append(f"line {number}: no area (give a third column or --area)")
        elif unknown:
            result.problems.append(f"line {number}: unknown area {unknown[0]!r}")
        else:
            batch.append((address, name, areas))
        if len(batch) >= BATCH:
            result.added += _add_many(batch, now)
            batch = []
    if batch:
        result.added += _add_many(batch, now)
    return result


def rows(area: str | None = None, state: str | None = None) -> Iterator[dict]:
    """Every subscriber with their areas by state, streamed in address order."""
    query = (Subscription.select(Subscriber.address, Subscriber.name, Subscription.area, Subscription.state)
             .join(Subscriber).order_by(Subscriber.address, Subscription.area))
    if area:
        query = query.where(Subscription.area == area)
    if state:
        query = query.where(Subscription.state == state)
    current: dict | None = None
    for address, name, sub_area, sub_state in query.tuples().iterator():
        if current is None or current["address"] != address:
            if current is not None:
                yield current
            current = {"address": address, "name": name, "areas": {}}
        current["areas"][sub_area] = sub_state
    if current is not None:
        yield current


def export_csv(handle: IO[str], area: str | None = None) -> int:
    """address,name,areas,state: the active areas, and pending/ended ones in the state column."""
    writer = csv.writer(handle)
    writer.writerow(COLUMNS)
    count = 0
    for row in rows(area):
        active = [a for a, s in row["areas"].items() if s == "active"]
        others = [f"{a}:{s}" for a, s in row["areas"].items() if s != "active"]
        writer.writerow([row["address"], row["name"], " ".join(active), " ".join(others) or "active"])
        count += 1
    return count
