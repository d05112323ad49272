"""acted_on: the signatures and signed Message-IDs of police mail already acted on, so that
a replay is held. The primary key is the guarantee: one row per signature, whichever daemon
writes it first."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    db.execute_sql("CREATE TABLE IF NOT EXISTS acted_on (kind TEXT NOT NULL, digest TEXT NOT NULL, "
                   "at TIMESTAMP NOT NULL, inbound_id INTEGER, PRIMARY KEY (kind, digest))")
