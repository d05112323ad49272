"""Each running daemon says it is alive, so `gateway status` can show every daemon on the
database (several servers on one PostgreSQL, or one on SQLite): host, pid, last seen."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    db.execute_sql("CREATE TABLE IF NOT EXISTS daemon (owner TEXT PRIMARY KEY, host TEXT NOT NULL, "
                   "pid INTEGER NOT NULL, started_at TIMESTAMP NOT NULL, last_seen TIMESTAMP NOT NULL)")
