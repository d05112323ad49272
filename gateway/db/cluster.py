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


def take_turn(job: str, owner: str, now: dt.datetime, seconds: float) -> bool:
    """Hold scheduled work `job` (bulletin fan-out, and later reminders and purges) for the
    next `seconds` unless another daemon holds it: True when this daemon is to do it now.
    The holder renews by taking its turn again; a daemon that dies lets its turn run out, and
    the next daemon to ask takes it. One statement, an upsert, on SQLite and PostgreSQL."""
    until = utc(now) + dt.timedelta(seconds=seconds)
    with db.atomic():
        rows = db.execute_sql(
            "INSERT INTO job (name, owner, until) VALUES ({p}, {p}, {p}) ON CONFLICT (name) DO UPDATE SET "
            "owner = excluded.owner, until = excluded.until WHERE job.until < {p} OR job.owner = excluded.owner "
            "RETURNING name".format(p=db.param), (job, owner, until, utc(now))).fetchall()
    return bool(rows)


def done_turn(job: str, owner: str, now: dt.datetime) -> None:
    """Record that `job` ran to the end just now (held by `owner`)."""
    db.execute_sql("UPDATE job SET last_done = {p} WHERE name = {p} AND owner = {p}".format(p=db.param),
                   (utc(now), job, owner))


def last_done(job: str) -> dt.datetime | None:
    """When `job` last ran to the end, by any daemon (None: never)."""
    row = db.execute_sql(f"SELECT last_done FROM job WHERE name = {db.param}", (job,)).fetchone()
    return as_datetime(row[0]) if row and row[0] else None


def give_up_turns(owner: str) -> None:
    """A daemon stopping cleanly lets its scheduled work go at once."""
    db.execute_sql("UPDATE job SET until = {p} WHERE owner = {p}".format(p=db.param),
                   (dt.datetime(2000, 1, 1), owner))


def turns() -> list[tuple[str, str, dt.datetime, dt.datetime | None]]:
    """(job, owner, held until, last done) of each piece of scheduled work, for `gateway status`."""
    return [(name, owner, as_datetime(until), as_datetime(done) if done else None) for name, owner, until, done in
            db.execute_sql("SELECT name, owner, until, last_done FROM job ORDER BY name").fetchall()]


def daemon_of(owner: str) -> str:
    """The daemon (host:pid) a lease or turn names: leases are named host:pid:worker#claim."""
    return ":".join(owner.split("#", 1)[0].split(":")[:2])


def lease_holders(now: dt.datetime) -> dict[str, dt.datetime | None]:
    """Every daemon (host:pid) that holds work now, a lease on stored or outgoing mail or a turn
    at scheduled work, or that has a heartbeat row, with when it was last seen (None: no row)."""
    named = {daemon_of(owner) for sql, params in (
        ("SELECT DISTINCT lease_owner FROM inbound WHERE state = 'queued' AND lease_owner IS NOT NULL", ()),
        ("SELECT DISTINCT lease_owner FROM outbound WHERE state = 'queued' AND lease_owner IS NOT NULL", ()),
        ("SELECT owner FROM job WHERE until > {p}".format(p=db.param), (utc(now),)))
        for (owner,) in db.execute_sql(sql, params).fetchall()}
    seen = {owner: as_datetime(last) for owner, last in
            db.execute_sql("SELECT owner, last_seen FROM daemon").fetchall()}
    return {daemon: seen.get(daemon) for daemon in named | set(seen)}


def take_back(prefix: str) -> tuple[int, int]:
    """Free at once the stored and outgoing mail held by claims whose name starts with
    `prefix` (a process that is gone: its leases would otherwise hold the mail until they run
    out); (stored messages, outgoing messages) freed. Their attempts stay counted: a message
    that killed its worker must still be parked after a few."""
    freed = []
    for table in ("inbound", "outbound"):
        cursor = db.execute_sql(f"UPDATE {table} SET lease_owner = NULL, lease_until = NULL WHERE state = 'queued' "
                                f"AND lease_owner IS NOT NULL AND substr(lease_owner, 1, {len(prefix)}) = {db.param}",
                                (prefix,))
        freed.append(cursor.rowcount)
    return freed[0], freed[1]


def forget(daemon: str) -> tuple[int, int]:
    """A daemon (host:pid) that is gone: its mail freed (take_back), its turns at scheduled work
    let go, its heartbeat row removed; (stored messages, outgoing messages) freed."""
    with db.atomic():
        freed = take_back(daemon + ":")
        give_up_turns(daemon)
        daemon_gone(daemon)
    return freed
