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

from gateway import db
from gateway.config import Settings

ADDRESS_RE = re.compile(r"^[^@\s<>\"(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,}$")
BATCH = 1000
COLUMNS = ("address", "name", "areas", "state")


@dataclass
class ImportResult:
    added: int = 0
    already: int = 0
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)   # "address area: why", not subscribed on purpose


def own_address(address: str, settings: Settings) -> bool:
    """The gateway's own addresses (surgery, teams, alerts, anything in its domain) are never
    subscribers: a bulletin to them would come straight back."""
    return address.strip().lower().endswith("@" + settings.domain)


def add(address: str, areas: Iterable[str], name: str, now: dt.datetime,
        resubscribe: bool = False) -> tuple[int, list[str]]:
    """Subscribe an address to areas at once: (how many subscriptions started, the areas left
    alone because the resident ended them; `resubscribe` only with their new consent)."""
    return _add_many([(address.strip().lower(), name, tuple(areas))], now, resubscribe)


def _add_many(rows: list[tuple[str, str, tuple[str, ...]]], now: dt.datetime,
              resubscribe: bool = False) -> tuple[int, list[str]]:
    added, left = db.people.add_many(rows, now, resubscribe)
    return added, [f"{address} {area}: they unsubscribed (use --resubscribe only if they have asked again)"
                   for address, area in left]


def remove(address: str, now: dt.datetime) -> int | None:
    """End every subscription of an address; None if it is not on the list."""
    subscriber = db.people.subscriber(address=address.strip())
    return None if subscriber is None else db.people.unsubscribe(subscriber.id, now)


def import_csv(handle: IO[str], settings: Settings, default_areas: tuple[str, ...], now: dt.datetime,
               resubscribe: bool = False) -> ImportResult:
    """Rows of address[,name[,areas]] (areas separated by spaces or ';'), a header optional.
    A line that is not UTF-8 is listed as bad and the rest go on (the handle should decode
    with errors="surrogateescape")."""
    result, batch = ImportResult(), []
    known = {a.key for a in settings.areas}

    def flush() -> None:
        added, left = _add_many(batch, now, resubscribe)
        result.added += added
        result.skipped.extend(left)
        batch.clear()

    for number, row in enumerate(csv.reader(handle), start=1):
        if not row or not row[0].strip() or (number == 1 and row[0].strip().lower().lstrip("\ufeff") == "address"):
            continue
        if not all(_is_text(cell) for cell in row):
            result.problems.append(f"line {number}: not UTF-8 text (save the file as UTF-8)")
            continue
        address = _unescaped(row[0]).strip().lower()
        name = _unescaped(row[1]).strip() if len(row) > 1 else ""
        areas = tuple(re.split(r"[;\s]+", row[2].strip())) if len(row) > 2 and row[2].strip() else default_areas
        unknown = [a for a in areas if a not in known]
        if own_address(address, settings):
            result.problems.append(f"line {number}: {address} is one of the gateway's own addresses")
        elif not ADDRESS_RE.match(address):
            result.problems.append(f"line {number}: {row[0]!r} is not an email address")
        elif not areas:
            result.problems.append(f"line {number}: no area (give a third column or --area)")
        elif unknown:
            result.problems.append(f"line {number}: unknown area {unknown[0]!r}")
        else:
            batch.append((address, name, areas))
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return result


def _is_text(cell: str) -> bool:
    try:
        cell.encode("utf-8")
        return True
    except UnicodeEncodeError:   # bytes that were not UTF-8, kept as surrogates
        return False


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escaped(cell: str) -> str:
    """A cell a spreadsheet would run as a formula (=cmd|..., =HYPERLINK(...)) starts with an
    apostrophe, which spreadsheets show as text (OWASP's advice for CSV injection)."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _unescaped(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_START) else cell


def rows(area: str | None = None, state: str | None = None) -> Iterator[dict]:
    """Every subscriber with their areas by state, streamed in address order."""
    current: dict | None = None
    for address, name, sub_area, sub_state in db.people.subscriptions(area, state):
        if current is None or current["address"] != address:
            if current is not None:
                yield current
            current = {"address": address, "name": name, "areas": {}}
        current["areas"][sub_area] = sub_state
    if current is not None:
        yield current


def export_csv(handle: IO[str], area: str | None = None) -> int:
    """address,name,areas,state, one shape for every row: every area of the subscriber, and
    each area's state (hightown:active rhosddu:ended). Cells a spreadsheet would run as a
    formula are escaped. An export imported again brings nobody back who unsubscribed."""
    writer = csv.writer(handle)
    writer.writerow(COLUMNS)
    count = 0
    for row in rows(area):
        states = " ".join(f"{a}:{s}" for a, s in row["areas"].items())
        writer.writerow([_escaped(row["address"]), _escaped(row["name"]), " ".join(row["areas"]), states])
        count += 1
    return count
