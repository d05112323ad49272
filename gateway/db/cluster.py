"""The daemons sharing one database, and work that runs once per cluster."""

from __future__ import annotations

import datetime as dt


from gateway.db.connection import as_datetime, utc
from gateway.db.models import db


def daemon_seen(owner: str, host: str, pid: int, started_at: dt.datetime, now: dt.datetime) -> None:
    """A running daemon's heartbeat (an upsert: the first one adds its row)."""
    with db.atomic():
        db.execute_sql("INSERT INTO daemon (owner, host, pid, started_at, last_seen) VALUES ({p}, {p}, {p}, {p}, {p}) "
                       "ON CONFLICT (owner) DO UPDATE SET last_seen = {p}".format(p=db.param),
                       (owner, host, pid, utc(started_at), utc(now), utc(now)))


def daemon_gone(owner: str) -> None:
    """A daemon that stopped cleanly takes its row away."""
    db.execute_sql("DELETE FROM daemon WHERE owner = {p}".format(p=db.param), (owner,))


def daemons() -> list[tuple[str, int, dt.datetime, dt.datetime]]:
    """(host, pid, started_at, last_seen) of every daemon that said it was running."""
    return [(host, pid, as_datetime(started), as_datetime(seen)) for host, pid, started, seen in db.execute_sql(
        "SELECT host, pid, started_at, last_seen FROM daemon ORDER BY host, pid").fetchall()]
