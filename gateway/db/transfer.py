"""`gateway db copy`: an installation moved from one database to another (SQLite to
PostgreSQL, as a force outgrows one machine), row for row, ids kept, counts checked."""

from __future__ import annotations

import datetime as dt
from typing import Callable

import peewee as pw

from gateway.db import connection, models
from gateway.db.models import db

# Parents before children (foreign keys); schema_version is written by migrate().
TABLES = (models.ReferenceCounter, models.Case, models.Inbound, models.MessageRef, models.Outbound,
          models.CaseEvent, models.ImapState, models.Subscriber, models.Subscription, models.Suppression,
          models.Bulletin)
# Tables without a model, copied column for column (the audit trail in its order, so that
# its chain of hashes holds in the new database too).
PLAIN_TABLES = ("bounce_score", "notice", "audit", "acted_on", "audit_key")
BATCH = 1000


class CopyRefused(Exception):
    """The copy cannot start or did not come out whole; the message says why."""


def _open(url: str) -> pw.Database:
    connection.connect(url)
    return db.obj


def _count(database: pw.Database, table: str) -> int:
    return database.execute_sql(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def _names() -> list[str]:
    return [m._meta.table_name for m in TABLES] + list(PLAIN_TABLES)


def _daemons_using(source: pw.Database, now: dt.datetime, alive_seconds: float) -> list[str]:
    """The daemons whose heartbeat in the source is fresher than `alive_seconds`, as
    "host pid N (last seen S s ago)"."""
    if not source.table_exists("daemon"):
        return []
    rows = source.execute_sql("SELECT host, pid, last_seen FROM daemon ORDER BY host, pid").fetchall()
    ages = [(host, pid, (connection.utc(now) - connection.as_datetime(seen)).total_seconds()) for host, pid, seen in rows]
    return [f"{host} pid {pid} (last seen {max(int(age), 0)} s ago)" for host, pid, age in ages if age <= alive_seconds]


def copy(source_url: str, target_url: str, now: dt.datetime,
         progress: Callable[[str, int], None] | None = None, alive_seconds: float = 30) -> dict[str, int]:
    """Copy every table of the source into the (empty) target; {table: rows}. The daemons
    must be stopped first: mail arriving during the copy would be left behind, so a daemon
    whose heartbeat is younger than `alive_seconds` refuses the copy. A database error (a
    role without the right to create tables, a server gone) is a CopyRefused, in one line."""
    try:
        return _copy(source_url, target_url, now, progress, alive_seconds)
    except pw.DatabaseError as exc:
        raise CopyRefused(f"the copy stopped: {' '.join(connection.first_line(exc).split())} "
                          "(the target may hold part of it: drop and create it again before another try)") from None


def _copy(source_url: str, target_url: str, now: dt.datetime,
          progress: Callable[[str, int], None] | None, alive_seconds: float) -> dict[str, int]:
    source = _open(source_url)
    if not connection.schema_is_current():
        raise CopyRefused(f"{source_url} is not a current gateway database: run `gateway init` on it first")
    running = _daemons_using(source, now, alive_seconds)
    if running:
        raise CopyRefused(f"a daemon is using {source_url}: {'; '.join(running)}; stop it first "
                          "(mail it takes during the copy would be left behind)")
    target = _open(target_url)   # the models are bound to the target from here on
    connection.migrate(now)
    full = [name for name in _names() if _count(target, name)]
    if full:
        raise CopyRefused(f"{target_url} is not empty ({', '.join(full)} hold rows): copy only into a new database")
    copied: dict[str, int] = {}
    for model in TABLES:
        key = model._meta.primary_key
        last, total = None, 0
        while True:
            with model.bind_ctx(source):
                query = model.select().order_by(key).limit(BATCH)
                if last is not None:
                    query = query.where(key > last)
                rows = list(query.dicts())
            if not rows:
                break
            with target.atomic():
                model.insert_many(rows).execute()
            last, total = rows[-1][key.name], total + len(rows)
            if progress is not None:
                progress(model._meta.table_name, total)
        copied[model._meta.table_name] = total
    for table in PLAIN_TABLES:
        cursor = source.execute_sql(f'SELECT * FROM "{table}" ORDER BY 1')
        columns = [c[0] for c in cursor.description]
        rows = cursor.fetchall()
        marks = ", ".join([target.param] * len(columns))
        with target.atomic():
            for row in rows:
                target.execute_sql(f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks})', row)
        copied[table] = len(rows)
    if isinstance(target, pw.PostgresqlDatabase):   # ids were given: move each sequence past them
        for model in TABLES:
            if isinstance(model._meta.primary_key, pw.AutoField):
                table = model._meta.table_name
                target.execute_sql(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                   f'COALESCE((SELECT max(id) FROM "{table}"), 0) + 1, false)')
        target.execute_sql("SELECT setval(pg_get_serial_sequence('audit', 'id'), "
                           "COALESCE((SELECT max(id) FROM audit), 0) + 1, false)")
    wrong = [f"{name}: {_count(source, name)} in the source, {_count(target, name)} copied"
             for name in _names() if _count(source, name) != _count(target, name)]
    if wrong:
        raise CopyRefused("the counts do not agree: " + "; ".join(wrong))
    return copied
